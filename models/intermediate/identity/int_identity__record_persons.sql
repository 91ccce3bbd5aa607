-- One row per touch, lead and contact: the person behind it. Every record has one: a touch whose identifiers
-- are all blocked or quarantined (or that carries none) is a person of its own, keyed by the touch.
with observations as (

    select * from {{ ref('int_identity__observations') }}

),

persons as (

    select identifier_type, identifier_value, person_id
    from {{ ref('int_identity__persons') }}

),

records as (

    select 'touch' as record_type, touch_id as record_id
    from {{ ref('stg_campaign__touches') }}
    where touch_id is not null
    union all
    select 'lead', lead_id
    from {{ ref('stg_crm__leads') }}
    where lead_id is not null
    union all
    select 'contact', contact_id
    from {{ ref('stg_crm__contacts') }}
    where contact_id is not null

),

resolved as (

    -- a record's identifiers all lie in one component (the record joins them), so any of them names the person
    select
        observations.record_type,
        observations.record_id,
        min(persons.person_id) as person_id
    from observations
    inner join persons
        on persons.identifier_type = observations.identifier_type
        and persons.identifier_value = observations.identifier_value
    group by observations.record_type, observations.record_id

),

final as (

    select
        records.record_type,
        records.record_id,
        coalesce(
            resolved.person_id,
            {{ cl_person_id("records.record_type || ':' || records.record_id") }}
        ) as person_id,
        resolved.person_id is not null as is_resolved
    from records
    left join resolved
        on resolved.record_type = records.record_type
        and resolved.record_id = records.record_id

)

select * from final
