-- One row per identifier value kept out of identity resolution: blocked by the identity_blocklist seed or
-- quarantined as shared by more people than its type's cap, with the people it would have joined (the distinct
-- persons among the records it appears on) and how many records carry it. Nothing is set aside silently.
with identifiers as (

    select * from {{ ref('int_identity__identifiers') }}
    where action is not null

),

observations as (

    select * from {{ ref('int_identity__observations') }}

),

record_persons as (

    select * from {{ ref('int_identity__record_persons') }}

),

joined_persons as (

    select
        identifiers.identifier_type,
        identifiers.identifier_value,
        count(distinct record_persons.person_id) as persons_it_would_join
    from identifiers
    inner join observations
        on observations.identifier_type = identifiers.identifier_type
        and observations.identifier_value = identifiers.identifier_value
    inner join record_persons
        on record_persons.record_type = observations.record_type
        and record_persons.record_id = observations.record_id
    group by identifiers.identifier_type, identifiers.identifier_value

),

final as (

    select
        identifiers.identifier_type,
        identifiers.identifier_value,
        identifiers.action,
        identifiers.reason,
        coalesce(joined_persons.persons_it_would_join, 0) as persons_it_would_join,
        identifiers.records,
        identifiers.first_seen_at,
        identifiers.last_seen_at
    from identifiers
    left join joined_persons
        on joined_persons.identifier_type = identifiers.identifier_type
        and joined_persons.identifier_value = identifiers.identifier_value

)

select * from final
