-- One row per row of the `crm/opportunities` export: typed, trimmed, normalised. Extra export columns are kept.
with source as (

    select * from {{ source('crm', 'opportunities') }}

),

renamed as (

    select
        {{ cl_text('opportunity_id') }} as opportunity_id,
        {{ cl_text('account_id') }} as account_id,
        {{ cl_text('owner_user_id') }} as owner_user_id,
        {{ cl_typed('created_at') }} as created_at,
        {{ cl_typed('amount') }} as amount,
        {{ cl_enum('opportunity_type') }} as opportunity_type,
        {{ cl_text('stage') }} as stage,
        {{ cl_typed('is_closed') }} as is_closed,
        {{ cl_typed('is_won') }} as is_won,
        {{ cl_text('opportunity_name') }} as opportunity_name,
        {{ cl_text('source_lead_id') }} as source_lead_id,
        {{ cl_typed('close_date') }} as close_date,
        {{ cl_text('loss_reason') }} as loss_reason,
        {{ cl_star_except('source', source('crm', 'opportunities'), ['opportunity_id', 'account_id', 'owner_user_id', 'created_at', 'amount', 'opportunity_type', 'stage', 'is_closed', 'is_won', 'opportunity_name', 'source_lead_id', 'close_date', 'loss_reason']) }}
    from source

),

final as (

    select * from renamed

)

select * from final
