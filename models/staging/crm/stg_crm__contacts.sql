-- One row per row of the `crm/contacts` export: typed, trimmed, normalised. Extra export columns are kept.
with source as (

    select * from {{ source('crm', 'contacts') }}

),

renamed as (

    select
        {{ cl_text('contact_id') }} as contact_id,
        {{ cl_text('account_id') }} as account_id,
        {{ cl_text('contact_name') }} as contact_name,
        {{ cl_enum('decision_role') }} as decision_role,
        {{ cl_email('email') }} as email,
        {{ cl_phone('phone') }} as phone,
        {{ cl_typed('created_at') }} as created_at,
        {{ cl_star_except('source', source('crm', 'contacts'), ['contact_id', 'account_id', 'contact_name', 'decision_role', 'email', 'phone', 'created_at']) }}
    from source

),

final as (

    select * from renamed

)

select * from final
