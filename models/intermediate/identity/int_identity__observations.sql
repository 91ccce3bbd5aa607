-- One row per identifier seen on a record: every touch, lead and contact lists the identifiers it carries, each
-- normalised by staging (e-mail trimmed and lower-cased, phone folded to one spelling, openids kept as written:
-- they are case-sensitive). Two identifiers on one record belong to one person (docs/metrics.md#one-person-across-channels-oneid).
{%- set touch_identifiers = ['anonymous_id', 'device_id', 'wechat_openid', 'wechat_unionid', 'email', 'phone', 'lead_id'] %}
{%- set lead_identifiers = ['lead_id', 'email', 'phone', 'wechat_openid'] %}
{%- set contact_identifiers = ['contact_id', 'email', 'phone'] %}
with touches as (

    select touch_id, touched_at, {{ touch_identifiers | join(', ') }}
    from {{ ref('stg_campaign__touches') }}
    where touch_id is not null

),

leads as (

    select created_at, {{ lead_identifiers | join(', ') }}
    from {{ ref('stg_crm__leads') }}
    where lead_id is not null

),

contacts as (

    select created_at, {{ contact_identifiers | join(', ') }}
    from {{ ref('stg_crm__contacts') }}
    where contact_id is not null

),

observed as (

    {%- for column in touch_identifiers %}
    select 'touch' as record_type, touch_id as record_id, touched_at as seen_at,
        '{{ column }}' as identifier_type, {{ column }} as identifier_value
    from touches
    where {{ column }} is not null
    union all
    {%- endfor %}
    {%- for column in lead_identifiers %}
    select 'lead', lead_id, created_at, '{{ column }}', {{ column }}
    from leads
    where {{ column }} is not null
    union all
    {%- endfor %}
    {%- for column in contact_identifiers %}
    select 'contact', contact_id, created_at, '{{ column }}', {{ column }}
    from contacts
    where {{ column }} is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

final as (

    -- no grouping needed for one row per record x identifier: the record ids are unique (the door's duplicate_key
    -- rule, and staging's unique tests), and every column is an identifier type of its own, so a record lists a
    -- (type, value) once
    select
        record_type,
        record_id,
        identifier_type,
        identifier_value,
        seen_at
    from observed

)

select * from final
