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

-- the account's name kept here too, so the page reads a hundred rows and joins nothing whatever the accounts
accounts as (

    select account_id, account_name from {{ ref('dim_account') }}

),

final as (

    select
        cast(row_number() over (
            order by top_persons.lead_count desc, top_persons.identifiers desc, top_persons.person_id
        ) as integer) as person_rank,
        top_persons.person_id,
        top_persons.lead_count,
        top_persons.identifiers,
        top_persons.first_lead_id,
        top_persons.first_seen_at,
        top_persons.last_seen_at,
        top_persons.account_id,
        accounts.account_name,
        top_persons.is_customer
    from top_persons
    left join accounts
        on accounts.account_id = top_persons.account_id

)

select * from final
