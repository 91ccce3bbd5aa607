-- One row per row of the `campaign/campaign_spend` export: typed, trimmed, normalised. Extra export columns are kept.
with source as (

    select * from {{ source('campaign', 'campaign_spend') }}

),

renamed as (

    select
        {{ cl_text('campaign_id') }} as campaign_id,
        {{ cl_typed('spend_date') }} as spend_date,
        {{ cl_typed('spend') }} as spend,
        {{ cl_typed('impressions') }} as impressions,
        {{ cl_typed('clicks') }} as clicks,
        {{ cl_star_except('source', source('campaign', 'campaign_spend'), ['campaign_id', 'spend_date', 'spend', 'impressions', 'clicks']) }}
    from source

),

final as (

    select
        {{ surrogate_key(['campaign_id', 'spend_date']) }} as campaign_spend_id,
        *
    from renamed

)

select * from final
