-- One row per row of the `campaign/touches` export: typed, trimmed, normalised. Extra export columns are kept.
with source as (

    select * from {{ source('campaign', 'touches') }}

),

renamed as (

    select
        {{ cl_text('touch_id') }} as touch_id,
        {{ cl_typed('touched_at') }} as touched_at,
        {{ cl_text('channel') }} as channel,
        {{ cl_enum('touch_type') }} as touch_type,
        {{ cl_text('campaign_id') }} as campaign_id,
        {{ cl_text('content_id') }} as content_id,
        {{ cl_text('anonymous_id') }} as anonymous_id,
        {{ cl_text('device_id') }} as device_id,
        {{ cl_text('wechat_openid') }} as wechat_openid,
        {{ cl_text('wechat_unionid') }} as wechat_unionid,
        {{ cl_email('email') }} as email,
        {{ cl_phone('phone') }} as phone,
        {{ cl_text('lead_id') }} as lead_id,
        {{ cl_star_except('source', source('campaign', 'touches'), ['touch_id', 'touched_at', 'channel', 'touch_type', 'campaign_id', 'content_id', 'anonymous_id', 'device_id', 'wechat_openid', 'wechat_unionid', 'email', 'phone', 'lead_id']) }}
    from source

),

final as (

    select * from renamed

)

select * from final
