-- One row per lead: its person, and the earlier lead of the same person it repeats (重复线索): the person's
-- previous lead when that was created within var duplicate_lead_window_days before this one.
with lead_persons as (

    select
        record_persons.person_id,
        leads.lead_id,
        leads.created_at
    from {{ ref('int_identity__record_persons') }} as record_persons
    inner join {{ ref('stg_crm__leads') }} as leads
        on leads.lead_id = record_persons.record_id
    where record_persons.record_type = 'lead'

),

ordered as (

    select
        lead_persons.*,
        lag(lead_id) over (partition by person_id order by created_at, lead_id) as previous_lead_id,
        lag(created_at) over (partition by person_id order by created_at, lead_id) as previous_created_at
    from lead_persons

),

final as (

    select
        lead_id,
        person_id,
        case
            when previous_created_at >= created_at - interval '{{ var("duplicate_lead_window_days") | int }} days'
                then previous_lead_id
        end as duplicate_of_lead_id
    from ordered

)

select * from final
