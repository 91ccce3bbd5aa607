-- One row per row of the `campaign/campaigns` export: typed, trimmed, normalised. Extra export columns are kept.
with source as (

    select * from {{ source('campaign', 'campaigns') }}

),

renamed as (

    select
        {{ cl_text('campaign_id') }} as campaign_id,
        {{ cl_text('campaign_name') }} as campaign_name,
        {{ cl_text('channel') }} as channel,
        {{ cl_enum('campaign_type') }} as campaign_type,
        {{ cl_typed('start_date') }} as start_date,
        {{ cl_typed('end_date') }} as end_date,
        {{ cl_typed('budget') }} as budget,
        {{ cl_text('department_id') }} as department_id,
        {{ cl_star_except('source', source('campaign', 'campaigns'), ['campaign_id', 'campaign_name', 'channel', 'campaign_type', 'start_date', 'end_date', 'budget', 'department_id']) }}
    from source

),

final as (

    select * from renamed

)

select * from final
