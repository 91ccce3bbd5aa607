-- One row per person: everything closedloop knows as one human across cookies, devices, WeChat, e-mail, phone,
-- leads and contacts (docs/metrics.md#one-person-across-channels-oneid).
{%- set counted_types = ['anonymous_id', 'device_id', 'wechat_openid', 'wechat_unionid', 'email', 'phone', 'lead_id', 'contact_id'] %}
with record_persons as (

    select * from {{ ref('int_identity__record_persons') }}

),

leads as (

    select lead_id, created_at, converted_at, converted_account_id
    from {{ ref('stg_crm__leads') }}

),

contacts as (

    select contact_id, account_id, created_at
    from {{ ref('stg_crm__contacts') }}

),

records_seen as (

    select record_persons.person_id, touches.touched_at as seen_at
    from record_persons
    inner join {{ ref('stg_campaign__touches') }} as touches
        on touches.touch_id = record_persons.record_id
    where record_persons.record_type = 'touch'
    union all
    select record_persons.person_id, leads.created_at
    from record_persons
    inner join leads
        on leads.lead_id = record_persons.record_id
    where record_persons.record_type = 'lead'
    union all
    select record_persons.person_id, contacts.created_at
    from record_persons
    inner join contacts
        on contacts.contact_id = record_persons.record_id
    where record_persons.record_type = 'contact'

),

seen as (

    select person_id, min(seen_at) as first_seen_at, max(seen_at) as last_seen_at
    from records_seen
    group by person_id

),

identifier_counts as (

    select
        person_id,
        {%- for identifier_type in counted_types %}
        count(case when identifier_type = '{{ identifier_type }}' then 1 end) as {{ identifier_type }}_count
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ ref('int_identity__persons') }}
    group by person_id

),

person_leads as (

    select
        record_persons.person_id,
        leads.*,
        row_number() over (
            partition by record_persons.person_id order by leads.created_at, leads.lead_id
        ) as lead_number,
        row_number() over (
            partition by record_persons.person_id
            order by case when leads.converted_account_id is null then 1 else 0 end, leads.converted_at,
                leads.created_at, leads.lead_id
        ) as conversion_rank
    from record_persons
    inner join leads
        on leads.lead_id = record_persons.record_id
    where record_persons.record_type = 'lead'

),

lead_accounts as (

    select person_id, converted_account_id as account_id
    from person_leads
    where conversion_rank = 1 and converted_account_id is not null

),

contact_accounts as (

    select person_id, account_id
    from (
        select
            record_persons.person_id,
            contacts.account_id,
            row_number() over (
                partition by record_persons.person_id
                order by contacts.created_at nulls last, contacts.contact_id
            ) as contact_rank
        from record_persons
        inner join contacts
            on contacts.contact_id = record_persons.record_id
        where record_persons.record_type = 'contact' and contacts.account_id is not null
    ) as ranked
    where contact_rank = 1

),

customers as (

    select account_id from {{ ref('stg_service__orders') }} where account_id is not null
    union
    select account_id from {{ ref('stg_crm__opportunities') }} where is_won and account_id is not null

),

persons as (

    select distinct person_id from record_persons

),

final as (

    select
        persons.person_id,
        seen.first_seen_at,
        seen.last_seen_at,
        {%- for identifier_type in counted_types if identifier_type != 'lead_id' %}
        coalesce(identifier_counts.{{ identifier_type }}_count, 0) as {{ identifier_type }}_count,
        {%- endfor %}
        coalesce(identifier_counts.lead_id_count, 0) as lead_count,
        first_leads.lead_id as first_lead_id,
        coalesce(lead_accounts.account_id, contact_accounts.account_id) as account_id,
        customers.account_id is not null as is_customer
    from persons
    left join seen
        on seen.person_id = persons.person_id
    left join identifier_counts
        on identifier_counts.person_id = persons.person_id
    left join person_leads as first_leads
        on first_leads.person_id = persons.person_id
        and first_leads.lead_number = 1
    left join lead_accounts
        on lead_accounts.person_id = persons.person_id
    left join contact_accounts
        on contact_accounts.person_id = persons.person_id
    left join (select distinct account_id from customers) as customers
        on customers.account_id = coalesce(lead_accounts.account_id, contact_accounts.account_id)

)

select * from final
