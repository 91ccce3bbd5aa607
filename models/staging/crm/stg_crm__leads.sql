-- One row per row of the `crm/leads` export: typed, trimmed, normalised. Extra export columns are kept.
with source as (

    select * from {{ source('crm', 'leads') }}

),

renamed as (

    select
        {{ cl_text('lead_id') }} as lead_id,
        {{ cl_typed('created_at') }} as created_at,
        {{ cl_text('channel') }} as channel,
        {{ cl_text('status') }} as status,
        {{ cl_text('campaign_id') }} as campaign_id,
        {{ cl_text('company_name') }} as company_name,
        {{ cl_text('contact_name') }} as contact_name,
        {{ cl_email('email') }} as email,
        {{ cl_phone('phone') }} as phone,
        {{ cl_text('wechat_openid') }} as wechat_openid,
        {{ cl_text('industry') }} as industry,
        {{ cl_text('region') }} as region,
        {{ cl_text('owner_user_id') }} as owner_user_id,
        {{ cl_text('referrer_account_id') }} as referrer_account_id,
        {{ cl_typed('converted_at') }} as converted_at,
        {{ cl_text('converted_account_id') }} as converted_account_id,
        {{ cl_text('converted_opportunity_id') }} as converted_opportunity_id,
        {{ cl_text('disqualify_reason') }} as disqualify_reason,
        {{ cl_star_except('source', source('crm', 'leads'), ['lead_id', 'created_at', 'channel', 'status', 'campaign_id', 'company_name', 'contact_name', 'email', 'phone', 'wechat_openid', 'industry', 'region', 'owner_user_id', 'referrer_account_id', 'converted_at', 'converted_account_id', 'converted_opportunity_id', 'disqualify_reason']) }}
    from source

),

final as (

    select * from renamed

)

select * from final
