-- One row per kept identifier with the person it belongs to. A person is a connected component of the identifier
-- graph; its person_id is derived from the component's earliest-seen identifier (ties: type, then value), so it
-- does not change when unrelated data arrives, and when two persons merge the merged one keeps the id of the
-- one seen first (docs/metrics.md#person-id).
with identifiers as (

    select * from {{ ref('int_identity__identifiers') }}
    where node_id is not null

),

components as (

    select * from {{ ref('int_identity__components') }}

),

members as (

    select
        identifiers.identifier_type,
        identifiers.identifier_value,
        identifiers.first_seen_at,
        identifiers.last_seen_at,
        identifiers.records,
        components.component_id,
        row_number() over (
            partition by components.component_id
            order by identifiers.first_seen_at nulls last, identifiers.identifier_type, identifiers.identifier_value
        ) as seen_rank
    from identifiers
    inner join components
        on components.node_id = identifiers.node_id

),

founders as (

    select
        component_id,
        {{ cl_person_id("identifier_type || ':' || identifier_value") }} as person_id
    from members
    where seen_rank = 1

),

final as (

    select
        founders.person_id,
        members.identifier_type,
        members.identifier_value,
        members.first_seen_at,
        members.last_seen_at,
        members.records
    from members
    inner join founders
        on founders.component_id = members.component_id

)

select * from final
