-- One row per distinct identifier (type × normalised value): when it was first seen, on how many records, and
-- whether it may join people. Junk never joins anyone (docs/metrics.md#junk-identifiers):
--   blocked      the value matches a pattern of the identity_blocklist seed (test addresses, placeholder phones);
--   quarantined  the value is shared by more people than its type's cap (var identity_value_caps): a front-desk
--                phone, a showroom iPad, a shared office e-mail. "People" is counted by the person-level
--                identifiers seen with it on the same records: distinct e-mails, phones, openids and unionids (for
--                cookies and devices also distinct devices and cookies), since one person has one of each.
-- Kept identifiers get a node_id for the component computation; the CRM's own lead_id and contact_id are never
-- blocked or quarantined (a record id is one record).
{%- set caps = var('identity_value_caps') %}
{%- set person_level = ['email', 'phone', 'wechat_openid', 'wechat_unionid'] %}
{%- set browser_level = ['anonymous_id', 'device_id'] %}
with observations as (

    select * from {{ ref('int_identity__observations') }}

),

identifiers as (

    select
        identifier_type,
        identifier_value,
        min(seen_at) as first_seen_at,
        max(seen_at) as last_seen_at,
        count(*) as records
    from observations
    group by identifier_type, identifier_value

),

blocked as (

    -- the seed's patterns are written into the query as constants (compiled once, not once per row)
    select identifier_type, identifier_value, reason
    from (
        select
            identifier_type,
            identifier_value,
            {{ cl_blocklist_reason(ref('identity_blocklist'), 'identifier_type', 'identifier_value') }} as reason
        from identifiers
    ) as screened
    where reason is not null

),

unblocked_observations as (

    select observations.*
    from observations
    left join blocked
        on blocked.identifier_type = observations.identifier_type
        and blocked.identifier_value = observations.identifier_value
    where blocked.identifier_type is null

),

partners as (

    -- for each capped value, the distinct other identifiers of each person-level type seen on its records
    select
        capped.identifier_type,
        capped.identifier_value,
        partner.identifier_type as partner_type,
        count(distinct partner.identifier_value) as distinct_partners
    from unblocked_observations as capped
    inner join unblocked_observations as partner
        on partner.record_type = capped.record_type
        and partner.record_id = capped.record_id
        and partner.identifier_type <> capped.identifier_type
    where capped.identifier_type in ({{ "'" ~ caps.keys() | list | join("', '") ~ "'" }})
        and (
            partner.identifier_type in ('{{ person_level | join("', '") }}')
            or (capped.identifier_type in ('{{ browser_level | join("', '") }}')
                and partner.identifier_type in ('{{ browser_level | join("', '") }}'))
        )
    group by capped.identifier_type, capped.identifier_value, partner.identifier_type

),

widest_sharing as (

    -- the partner type that shows the most people, and how many (ties: the first type by name)
    select identifier_type, identifier_value, partner_type, distinct_partners
    from (
        select
            partners.*,
            row_number() over (
                partition by identifier_type, identifier_value
                order by distinct_partners desc, partner_type
            ) as sharing_rank
        from partners
    ) as ranked
    where sharing_rank = 1

),

caps as (

    {%- for identifier_type, cap in caps.items() %}
    select '{{ identifier_type }}' as identifier_type, {{ cap | int }} as cap
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

screened as (

    select
        identifiers.*,
        case
            when blocked.reason is not null then 'blocked'
            when widest_sharing.distinct_partners > caps.cap then 'quarantined'
        end as action,
        case
            when blocked.reason is not null then blocked.reason
            when widest_sharing.distinct_partners > caps.cap
                then 'seen with ' || cast(widest_sharing.distinct_partners as {{ dbt.type_string() }}) || ' different '
                    || widest_sharing.partner_type || ' values (cap ' || cast(caps.cap as {{ dbt.type_string() }}) || ' for '
                    || identifiers.identifier_type || ')'
        end as reason,
        widest_sharing.distinct_partners as widest_sharing
    from identifiers
    left join blocked
        on blocked.identifier_type = identifiers.identifier_type
        and blocked.identifier_value = identifiers.identifier_value
    left join widest_sharing
        on widest_sharing.identifier_type = identifiers.identifier_type
        and widest_sharing.identifier_value = identifiers.identifier_value
    left join caps
        on caps.identifier_type = identifiers.identifier_type

),

final as (

    select
        identifier_type,
        identifier_value,
        first_seen_at,
        last_seen_at,
        records,
        action,
        reason,
        widest_sharing,
        case
            when action is null then dense_rank() over (
                partition by action is null order by identifier_type, identifier_value
            )
        end as node_id
    from screened

)

select * from final
