-- The persons with the most leads, ranked once per build: the Journey page lists the first twenty on every load,
-- and a top-N over every person (millions at 10M leads) cost it seconds (issue 17). A hundred are kept so the
-- page's list can grow without a rebuild.
with counted as (

    select
        person_id,
        lead_count,
        first_lead_id,
        first_seen_at,
        last_seen_at,
        account_id,
        is_customer,
        cast(
            anonymous_id_count + device_id_count + wechat_openid_count + wechat_unionid_count
            + email_count + phone_count + contact_id_count + lead_count
            as bigint
        ) as identifiers
    from {{ ref('dim_person') }}

),

top_persons as (

    select *
    from counted
    order by lead_count desc, identifiers desc, person_id
    limit 100

),

final as (

    select
        cast(row_number() over (order by lead_count desc, identifiers desc, person_id) as integer) as person_rank,
        person_id,
        lead_count,
        identifiers,
        first_lead_id,
        first_seen_at,
        last_seen_at,
        account_id,
        is_customer
    from top_persons

)

select * from final
