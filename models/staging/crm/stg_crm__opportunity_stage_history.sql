-- One row per row of the `crm/opportunity_stage_history` export: typed, trimmed, normalised. Extra export columns are kept.
with source as (

    select * from {{ source('crm', 'opportunity_stage_history') }}

),

renamed as (

    select
        {{ cl_text('opportunity_id') }} as opportunity_id,
        {{ cl_text('stage') }} as stage,
        {{ cl_typed('entered_at') }} as entered_at,
        {{ cl_text('owner_user_id') }} as owner_user_id,
        {{ cl_typed('amount') }} as amount,
        {{ cl_star_except('source', source('crm', 'opportunity_stage_history'), ['opportunity_id', 'stage', 'entered_at', 'owner_user_id', 'amount']) }}
    from source

),

final as (

    select
        {{ surrogate_key(['opportunity_id', 'stage', 'entered_at', 'owner_user_id']) }} as stage_history_id,
        *
    from renamed

)

select * from final
