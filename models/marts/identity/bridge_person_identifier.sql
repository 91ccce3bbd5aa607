-- One row per identifier that joins people (blocked and quarantined values are in fct_identity_audit instead):
-- the person it belongs to, when it was first seen and on how many records.
with persons as (

    select * from {{ ref('int_identity__persons') }}

),

final as (

    select
        person_id,
        identifier_type,
        identifier_value,
        first_seen_at,
        last_seen_at,
        records
    from persons

)

select * from final
