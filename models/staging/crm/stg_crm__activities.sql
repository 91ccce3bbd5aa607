-- One row per row of the `crm/activities` export: typed, trimmed, normalised. Extra export columns are kept.
with source as (

    select * from {{ source('crm', 'activities') }}

),

renamed as (

    select
        {{ cl_text('activity_id') }} as activity_id,
        {{ cl_typed('activity_at') }} as activity_at,
        {{ cl_text('user_id') }} as user_id,
        {{ cl_enum('activity_type') }} as activity_type,
        {{ cl_text('lead_id') }} as lead_id,
        {{ cl_text('account_id') }} as account_id,
        {{ cl_text('opportunity_id') }} as opportunity_id,
        {{ cl_typed('duration_minutes') }} as duration_minutes,
        {{ cl_text('outcome') }} as outcome,
        {{ cl_star_except('source', source('crm', 'activities'), ['activity_id', 'activity_at', 'user_id', 'activity_type', 'lead_id', 'account_id', 'opportunity_id', 'duration_minutes', 'outcome']) }}
    from source

),

final as (

    select * from renamed

)

select * from final
