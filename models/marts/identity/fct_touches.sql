-- One row per marketing touch, with the person behind it and the lead it belongs to: the lead the export names,
-- else one resolved through the person (the person's latest lead created at or before the touch, else the
-- person's first lead after it: the journey that led to it).
with touches as (

    select touch_id, touched_at, channel, touch_type, campaign_id, content_id, lead_id
    from {{ ref('stg_campaign__touches') }}
    where touch_id is not null

),

touch_persons as (

    select record_id as touch_id, person_id
    from {{ ref('int_identity__record_persons') }}
    where record_type = 'touch'

),

person_leads as (

    select record_persons.person_id, leads.lead_id, leads.created_at
    from {{ ref('int_identity__record_persons') }} as record_persons
    inner join {{ ref('stg_crm__leads') }} as leads
        on leads.lead_id = record_persons.record_id
    where record_persons.record_type = 'lead'

),

unnamed as (

    select touches.touch_id, touches.touched_at, touch_persons.person_id
    from touches
    inner join touch_persons
        on touch_persons.touch_id = touches.touch_id
    where touches.lead_id is null

),

resolved_leads as (

    select touch_id, lead_id
    from (
        select
            unnamed.touch_id,
            person_leads.lead_id,
            row_number() over (
                partition by unnamed.touch_id
                order by
                    case when person_leads.created_at <= unnamed.touched_at then 0 else 1 end,
                    case when person_leads.created_at <= unnamed.touched_at then person_leads.created_at end desc,
                    person_leads.created_at,
                    person_leads.lead_id
            ) as lead_rank
        from unnamed
        inner join person_leads
            on person_leads.person_id = unnamed.person_id
    ) as ranked
    where lead_rank = 1

),

final as (

    select
        touches.touch_id,
        touches.touched_at,
        touch_persons.person_id,
        touches.channel,
        touches.touch_type,
        touches.campaign_id,
        touches.content_id,
        coalesce(touches.lead_id, resolved_leads.lead_id) as lead_id,
        touches.lead_id is null and resolved_leads.lead_id is not null as is_lead_resolved
    from touches
    inner join touch_persons
        on touch_persons.touch_id = touches.touch_id
    left join resolved_leads
        on resolved_leads.touch_id = touches.touch_id

)

select * from final
