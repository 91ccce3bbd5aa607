-- One row per follow-up: a feedback whose seed reason has a recontact_after_days (docs/metrics.md#follow-up-status), due
-- that many days after the feedback, owned by the rep who gave it (the department head once that rep has left),
-- with its status as of int_as_of and whether the person or account came back with an opportunity.
with feedback as (

    select * from {{ ref('int_followup_feedback') }}
    where recontact_after_days is not null

),

as_of as (

    select as_of_at from {{ ref('int_as_of') }}

),

users as (

    select user_id, department_id, role, left_at, hired_at from {{ ref('stg_crm__users') }}

),

-- the department head: the longest-serving manager of the department still employed at as-of
department_heads as (

    select department_id, user_id as head_user_id
    from (
        select
            users.department_id,
            users.user_id,
            row_number() over (partition by users.department_id order by users.hired_at, users.user_id) as head_rank
        from users
        cross join as_of
        where users.role = 'manager' and (users.left_at is null or users.left_at > as_of.as_of_at)
    ) as ranked
    where head_rank = 1

),

followups as (

    select
        feedback.*,
        {{ dbt.dateadd('day', 'feedback.recontact_after_days', 'feedback.feedback_at') }} as due_at,
        givers.department_id,
        case
            when givers.left_at is not null and givers.left_at <= as_of.as_of_at
                then coalesce(department_heads.head_user_id, feedback.given_by_user_id)
            else feedback.given_by_user_id
        end as owner_user_id
    from feedback
    cross join as_of
    left join users as givers
        on feedback.given_by_user_id = givers.user_id
    left join department_heads
        on givers.department_id = department_heads.department_id

),

windows as (

    select
        followups.entity_type,
        followups.entity_id,
        followups.person_id,
        followups.account_id,
        followups.feedback_at,
        -- a recontact counts from followup_early_days before the due date on, and never before the feedback
        greatest(followups.feedback_at,
                 {{ dbt.dateadd('day', -var('followup_early_days'), 'followups.due_at') }}) as window_start
    from followups

),

leads as (

    select lead_id, person_id, created_at from {{ ref('fct_leads') }}

),

-- what counts as a recontact: a sales activity on the lead, the account or a lead of the person; a direct
-- marketing touch by the person; a new lead of the person
recontacts as (

    select windows.entity_type, windows.entity_id, activities.activity_at as recontact_at
    from windows
    inner join {{ ref('stg_crm__activities') }} as activities
        on windows.entity_type = 'lead' and activities.lead_id = windows.entity_id
    where activities.activity_at >= windows.window_start
    union all
    select windows.entity_type, windows.entity_id, activities.activity_at
    from windows
    inner join {{ ref('stg_crm__activities') }} as activities
        on activities.account_id = windows.account_id
    where activities.activity_at >= windows.window_start
    union all
    select windows.entity_type, windows.entity_id, activities.activity_at
    from windows
    inner join leads
        on leads.person_id = windows.person_id
    inner join {{ ref('stg_crm__activities') }} as activities
        on activities.lead_id = leads.lead_id
    where activities.activity_at >= windows.window_start
    union all
    select windows.entity_type, windows.entity_id, touches.touched_at
    from windows
    inner join {{ ref('fct_touches') }} as touches
        on touches.person_id = windows.person_id
    where touches.touch_type in ('email_open', 'webinar_attend', 'event_checkin', 'form_submit')
        and touches.touched_at >= windows.window_start
    union all
    select windows.entity_type, windows.entity_id, leads.created_at
    from windows
    inner join leads
        on leads.person_id = windows.person_id
    where leads.created_at >= windows.window_start
        and not (windows.entity_type = 'lead' and leads.lead_id = windows.entity_id)

),

first_recontacts as (

    select entity_type, entity_id, min(recontact_at) as done_at
    from recontacts
    cross join as_of
    where recontact_at <= as_of.as_of_at
    group by entity_type, entity_id

),

-- recovered: an opportunity of the account, or from a lead of the person, created after the feedback
later_opportunities as (

    select windows.entity_type, windows.entity_id, opportunities.opportunity_id, opportunities.created_at
    from windows
    inner join {{ ref('fct_opportunities') }} as opportunities
        on opportunities.account_id = windows.account_id
    where opportunities.created_at > windows.feedback_at
        and not (windows.entity_type = 'opportunity' and opportunities.opportunity_id = windows.entity_id)
    union all
    select windows.entity_type, windows.entity_id, opportunities.opportunity_id, opportunities.created_at
    from windows
    inner join leads
        on leads.person_id = windows.person_id
    inner join {{ ref('fct_opportunities') }} as opportunities
        on opportunities.source_lead_id = leads.lead_id
    where opportunities.created_at > windows.feedback_at
        and not (windows.entity_type = 'opportunity' and opportunities.opportunity_id = windows.entity_id)

),

recoveries as (

    select entity_type, entity_id, opportunity_id as recovered_opportunity_id
    from (
        select
            later_opportunities.*,
            row_number() over (partition by entity_type, entity_id order by created_at, opportunity_id) as recovery_rank
        from later_opportunities
    ) as ranked
    where recovery_rank = 1

),

-- what a follow-up is worth, with whose figure it is: the Follow-ups page ranks the open ones by it, and a department
-- head sees a deal's amount or an account's value only when it is in their departments (dashboards/queries.py)
lost_deals as (

    select opportunity_id, amount, department_id from {{ ref('fct_opportunities') }}

),

customer_values as (

    select account_id, lifetime_value, department_id from {{ ref('fct_customer_value') }}

),

final as (

    select
        followups.entity_type || ':' || followups.entity_id as followup_id,
        followups.entity_type,
        followups.entity_id,
        followups.person_id,
        followups.account_id,
        followups.reason,
        followups.category,
        followups.next_action,
        followups.feedback_at,
        followups.due_at,
        followups.owner_user_id,
        followups.department_id,
        case
            when first_recontacts.done_at is not null then 'done'
            when as_of.as_of_at > {{ dbt.dateadd('day', var('followup_grace_days'), 'followups.due_at') }}
                then 'overdue'
            when as_of.as_of_at >= {{ dbt.dateadd('day', -var('followup_early_days'), 'followups.due_at') }}
                then 'due'
            else 'upcoming'
        end as status,
        first_recontacts.done_at,
        recoveries.recovered_opportunity_id is not null as is_recovered,
        recoveries.recovered_opportunity_id,
        followups.feedback_text,
        followups.match_type,
        followups.given_by_user_id,
        -- done on time: recontacted by the end of the grace period (the share the page compares per department)
        first_recontacts.done_at is not null
            and first_recontacts.done_at <= {{ dbt.dateadd('day', var('followup_grace_days'), 'followups.due_at') }}
            as is_done_on_time,
        -- the denominator of the on-time share: follow-ups whose grace period has ended, or that are done
        first_recontacts.done_at is not null
            or as_of.as_of_at > {{ dbt.dateadd('day', var('followup_grace_days'), 'followups.due_at') }}
            as is_on_time_calc,
        lost_deals.amount as deal_amount,
        lost_deals.department_id as deal_department_id,
        customer_values.lifetime_value as account_lifetime_value,
        customer_values.department_id as account_value_department_id
    from followups
    cross join as_of
    left join first_recontacts
        on followups.entity_type = first_recontacts.entity_type and followups.entity_id = first_recontacts.entity_id
    left join recoveries
        on followups.entity_type = recoveries.entity_type and followups.entity_id = recoveries.entity_id
    left join lost_deals
        on followups.entity_type = 'opportunity' and lost_deals.opportunity_id = followups.entity_id
    left join customer_values
        on customer_values.account_id = followups.account_id

)

select * from final
