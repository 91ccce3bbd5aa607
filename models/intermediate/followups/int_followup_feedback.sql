-- One row per feedback: a disqualified lead's reason or a lost opportunity's loss reason, with the seed reason it
-- matches (docs/metrics.md#follow-up-status). The text is normalised (cl_normalise_feedback) on both sides, then matched
-- to the seed's reason, else to one of its '|'-separated aliases; no match is `other`.
with leads as (

    select lead_id, person_id, owner_user_id, disqualified_at, disqualify_reason
    from {{ ref('fct_leads') }}
    where is_disqualified and disqualify_reason is not null

),

-- the rep who gave the feedback: the user of the lead's latest disqualified event
disqualified_events as (

    select lead_id, user_id, event_at,
        row_number() over (partition by lead_id order by event_at desc, user_id) as event_rank
    from {{ ref('stg_crm__lead_events') }}
    where event_type = 'disqualified'

),

person_accounts as (

    select person_id, account_id from {{ ref('dim_person') }}

),

lead_persons as (

    select lead_id, person_id from {{ ref('fct_leads') }}

),

lead_feedback as (

    select
        'lead' as entity_type,
        leads.lead_id as entity_id,
        leads.person_id,
        person_accounts.account_id,
        leads.disqualify_reason as feedback_text,
        coalesce(leads.disqualified_at, disqualified_events.event_at) as feedback_at,
        coalesce(disqualified_events.user_id, leads.owner_user_id) as given_by_user_id
    from leads
    left join disqualified_events
        on leads.lead_id = disqualified_events.lead_id and disqualified_events.event_rank = 1
    left join person_accounts
        on leads.person_id = person_accounts.person_id

),

opportunity_feedback as (

    select
        'opportunity' as entity_type,
        opportunities.opportunity_id as entity_id,
        lead_persons.person_id,
        opportunities.account_id,
        opportunities.loss_reason as feedback_text,
        opportunities.closed_at as feedback_at,
        opportunities.owner_user_id as given_by_user_id
    from {{ ref('fct_opportunities') }} as opportunities
    left join lead_persons
        on opportunities.source_lead_id = lead_persons.lead_id
    where opportunities.is_closed and not opportunities.is_won and opportunities.loss_reason is not null
        and opportunities.closed_at is not null

),

feedback as (

    select * from lead_feedback
    union all
    select * from opportunity_feedback

),

seed as (

    select
        reason,
        category,
        next_action,
        recontact_after_days,
        {{ cl_normalise_feedback('reason') }} as reason_key,
        '|' || coalesce({{ cl_normalise_feedback('aliases') }}, '') || '|' as alias_keys
    from {{ ref('lead_feedback_reasons') }}

),

normalised as (

    select feedback.*, {{ cl_normalise_feedback('feedback.feedback_text') }} as feedback_key
    from feedback

),

-- a text matching a reason exactly wins over one matching an alias; among aliases the seed's first reason wins
candidates as (

    select
        normalised.entity_type,
        normalised.entity_id,
        seed.reason,
        case when seed.reason_key = normalised.feedback_key then 'reason' else 'alias' end as match_type,
        row_number() over (
            partition by normalised.entity_type, normalised.entity_id
            order by case when seed.reason_key = normalised.feedback_key then 0 else 1 end, seed.reason
        ) as match_rank
    from normalised
    inner join seed
        on seed.reason_key = normalised.feedback_key
        or ({{ dbt.position("'|' || normalised.feedback_key || '|'", 'seed.alias_keys') }} > 0
            and {{ dbt.position("'|'", 'normalised.feedback_key') }} = 0)
    where normalised.feedback_key <> ''

),

final as (

    select
        normalised.entity_type,
        normalised.entity_id,
        normalised.person_id,
        normalised.account_id,
        normalised.feedback_text,
        normalised.feedback_key,
        normalised.feedback_at,
        normalised.given_by_user_id,
        coalesce(seed.reason, 'other') as reason,
        coalesce(seed.category, 'other') as category,
        seed.next_action,
        seed.recontact_after_days,
        coalesce(candidates.match_type, 'none') as match_type
    from normalised
    left join candidates
        on normalised.entity_type = candidates.entity_type
        and normalised.entity_id = candidates.entity_id
        and candidates.match_rank = 1
    left join seed
        on candidates.reason = seed.reason

)

select * from final
