-- A rep's month like a player's stats line (行为 · 结果 · 状态): behaviour = activities by type, results =
-- opportunities created and deals won or lost, state = win rate, sales cycle and lead SLA compliance.
-- One row per user and month from the month they joined (or the first month of data) to the month they left
-- (or as_of_month), plus any other month in which they have a figure, so a quiet month shows as zeros.
with as_of as (

    select as_of_at, as_of_month from {{ ref('int_as_of') }}

),

users as (

    select user_id, user_name, role, department_id, hired_at, left_at
    from {{ ref('dim_user') }}

),

first_month as (

    select cast(date_trunc('month', min(date_day)) as date) as first_month from {{ ref('dim_date') }}

),

employment as (

    select
        users.user_id,
        greatest(cast(date_trunc('month', coalesce(users.hired_at, first_month.first_month)) as date),
                 first_month.first_month) as from_month,
        least(cast(date_trunc('month', coalesce(users.left_at, as_of.as_of_at)) as date),
              as_of.as_of_month) as to_month
    from users
    cross join as_of
    cross join first_month

),

-- employment expanded to months: bounded by each user's tenure, users × months only where employed
employment_offsets as (

    select
        user_id,
        from_month,
        {{ cl_unnest_range(plausible_months(customer_months_between('from_month', 'to_month') ~ ' + 1'), 'month_offset') }}
    from employment
    where from_month <= to_month

),

employment_months as (

    select user_id, {{ cl_add_months('from_month', 'month_offset') }} as month
    from employment_offsets

),

activities as (

    select
        activities.user_id,
        cast(date_trunc('month', activities.activity_at) as date) as month,
        count(*) filter (where activities.activity_type = 'call') as calls,
        count(*) filter (where activities.activity_type = 'visit') as visits,
        count(*) filter (where activities.activity_type = 'email') as emails,
        count(*) filter (where activities.activity_type = 'wechat') as wechats,
        count(*) filter (where activities.activity_type = 'meeting') as meetings,
        count(*) filter (where activities.activity_type = 'demo') as demos,
        count(*) filter (where activities.activity_type = 'proposal') as proposals,
        count(*) as activities_total
    from {{ ref('stg_crm__activities') }} as activities
    cross join as_of
    where activities.activity_at <= as_of.as_of_at
      and activities.user_id is not null
    group by all

),

opportunities as (

    select owner_user_id, created_at, closed_at, is_closed, is_won, amount, cycle_days
    from {{ ref('fct_opportunities') }}

),

opportunities_created as (

    select
        owner_user_id as user_id,
        cast(date_trunc('month', created_at) as date) as month,
        count(*) as opportunities_created,
        sum(amount) as opportunities_created_amount
    from opportunities
    group by all

),

-- results and win rate by the month a deal closed (docs/metrics.md#win-rate: win rate among opportunities closed in the period)
opportunities_closed as (

    select
        owner_user_id as user_id,
        cast(date_trunc('month', closed_at) as date) as month,
        count(*) filter (where is_won) as won_deals,
        sum(amount) filter (where is_won) as won_revenue,
        count(*) filter (where not is_won) as lost_deals,
        avg(cycle_days) filter (where is_won) as avg_cycle_days_won
    from opportunities
    where is_closed and closed_at is not null
    group by all

),

-- SLA compliance of the leads first assigned in the month, credited to the lead's owner
leads_assigned as (

    select
        owner_user_id as user_id,
        cast(date_trunc('month', first_assigned_at) as date) as month,
        count(*) as leads_assigned,
        count(*) filter (where sla_status = 'met') as sla_met,
        count(*) filter (where sla_status = 'missed') as sla_missed,
        count(*) filter (where sla_status = 'pending') as sla_pending
    from {{ ref('fct_leads') }}
    where first_assigned_at is not null
    group by all

),

any_user_months as (

    select user_id, month from employment_months
    union
    select user_id, month from activities
    union
    select user_id, month from opportunities_created
    union
    select user_id, month from opportunities_closed
    union
    select user_id, month from leads_assigned

),

-- an unowned lead has no rep to credit; months after as_of are not reported
user_months as (

    select any_user_months.user_id, any_user_months.month
    from any_user_months
    cross join as_of
    where any_user_months.user_id is not null
      and any_user_months.month <= as_of.as_of_month

),

final as (

    select
        user_months.month,
        user_months.user_id,
        users.user_name,
        users.role,
        users.department_id,
        cast(coalesce(activities.calls, 0) as bigint) as calls,
        cast(coalesce(activities.visits, 0) as bigint) as visits,
        cast(coalesce(activities.emails, 0) as bigint) as emails,
        cast(coalesce(activities.wechats, 0) as bigint) as wechats,
        cast(coalesce(activities.meetings, 0) as bigint) as meetings,
        cast(coalesce(activities.demos, 0) as bigint) as demos,
        cast(coalesce(activities.proposals, 0) as bigint) as proposals,
        cast(coalesce(activities.activities_total, 0) as bigint) as activities_total,
        cast(coalesce(opportunities_created.opportunities_created, 0) as bigint) as opportunities_created,
        cast(coalesce(opportunities_created.opportunities_created_amount, 0) as decimal(18, 2)) as opportunities_created_amount,
        cast(coalesce(opportunities_closed.won_deals, 0) as bigint) as won_deals,
        cast(coalesce(opportunities_closed.won_revenue, 0) as decimal(18, 2)) as won_revenue,
        cast(coalesce(opportunities_closed.lost_deals, 0) as bigint) as lost_deals,
        -- the win-rate denominator (is_win_rate_calc style): deals closed won or lost in the month
        cast(coalesce(opportunities_closed.won_deals, 0) + coalesce(opportunities_closed.lost_deals, 0) as bigint) as closed_count,
        {{ safe_ratio('opportunities_closed.won_deals', 'opportunities_closed.won_deals + opportunities_closed.lost_deals') }} as win_rate,
        cast(opportunities_closed.avg_cycle_days_won as double) as avg_cycle_days_won,
        cast(coalesce(leads_assigned.leads_assigned, 0) as bigint) as leads_assigned,
        cast(coalesce(leads_assigned.sla_met, 0) as bigint) as sla_met,
        cast(coalesce(leads_assigned.sla_missed, 0) as bigint) as sla_missed,
        cast(coalesce(leads_assigned.sla_pending, 0) as bigint) as sla_pending,
        -- the SLA denominator: leads whose SLA is decided (pending ones are neither met nor missed yet)
        cast(coalesce(leads_assigned.sla_met, 0) + coalesce(leads_assigned.sla_missed, 0) as bigint) as sla_calc_count,
        {{ safe_ratio('leads_assigned.sla_met', 'leads_assigned.sla_met + leads_assigned.sla_missed') }} as sla_compliance
    from user_months
    left join users
        on user_months.user_id = users.user_id
    left join activities
        on user_months.user_id = activities.user_id and user_months.month = activities.month
    left join opportunities_created
        on user_months.user_id = opportunities_created.user_id and user_months.month = opportunities_created.month
    left join opportunities_closed
        on user_months.user_id = opportunities_closed.user_id and user_months.month = opportunities_closed.month
    left join leads_assigned
        on user_months.user_id = leads_assigned.user_id and user_months.month = leads_assigned.month

)

select * from final
