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

record_pairs as (

    -- every capped value with each person-level identifier on its record (cookies and devices: also the other
    -- browser-level one), read as pairs of columns of the record itself: a record holds one value per type, so its
    -- pairs are its columns two by two (a self-join of the observations over the record builds a hash table of
    -- every observation: 38 GB spilled at scale 1000)
    {%- for record in cl_identity_records() %}
    {%- set kinds = [] %}
    {%- for capped in record.identifiers if capped in caps %}
    {%- for partner in record.identifiers if partner != capped
            and (partner in person_level or (capped in browser_level and partner in browser_level)) %}
    {%- do kinds.append([capped, partner]) %}
    {%- endfor %}
    {%- endfor %}
    {{ cl_unpivot_record(record, ['identifier_type', 'partner_type'], kinds) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

partner_keys as (

    -- a blocked partner is no one; the rest are counted by a 64-bit hash of the value rather than the value (a
    -- third of the spill at scale 100): two partners of one capped value and type would have to collide, about
    -- k²/2^65 for k partners, nil for the handful a value has
    select
        record_pairs.identifier_type,
        record_pairs.identifier_value,
        record_pairs.partner_type,
        {{ cl_hash(['record_pairs.partner_value']) }} as partner_key
    from record_pairs
    left join blocked
        on blocked.identifier_type = record_pairs.partner_type
        and blocked.identifier_value = record_pairs.partner_value
    where blocked.identifier_type is null

),

distinct_partners as (

    select distinct identifier_type, identifier_value, partner_type, partner_key
    from partner_keys

),

partners as (

    -- for each capped value that is not blocked, how many distinct identifiers of each partner type its records hold
    select
        distinct_partners.identifier_type,
        distinct_partners.identifier_value,
        distinct_partners.partner_type,
        count(*) as distinct_partners
    from distinct_partners
    left join blocked
        on blocked.identifier_type = distinct_partners.identifier_type
        and blocked.identifier_value = distinct_partners.identifier_value
    where blocked.identifier_type is null
    group by distinct_partners.identifier_type, distinct_partners.identifier_value, distinct_partners.partner_type

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
