-- One row per row of the `crm/accounts` export: typed, trimmed, normalised. Extra export columns are kept.
with source as (

    select * from {{ source('crm', 'accounts') }}

),

renamed as (

    select
        {{ cl_text('account_id') }} as account_id,
        {{ cl_text('account_name') }} as account_name,
        {{ cl_typed('created_at') }} as created_at,
        {{ cl_text('industry') }} as industry,
        {{ cl_text('company_size') }} as company_size,
        {{ cl_text('region') }} as region,
        upper({{ cl_text('grade') }}) as grade,
        {{ cl_text('owner_user_id') }} as owner_user_id,
        {{ cl_text('source_lead_id') }} as source_lead_id,
        {{ cl_text('referred_by_account_id') }} as referred_by_account_id,
        {{ cl_star_except('source', source('crm', 'accounts'), ['account_id', 'account_name', 'created_at', 'industry', 'company_size', 'region', 'grade', 'owner_user_id', 'source_lead_id', 'referred_by_account_id']) }}
    from source

),

final as (

    select * from renamed

)

select * from final
