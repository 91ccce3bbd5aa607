-- Month × user customer-resource turnover (客户资源周转), with department rows (user_id null) and
-- company rows (department_id and user_id null). Holdings come from the ownership replay
-- (int_ownership_intervals) counted at instants, never from a day spine:
--   holdings_end   = held at the end of the month (at as_of for the current month),
--   holdings_start = held at the end of the previous month,
-- so holdings_end = holdings_start + assigned + claimed + transferred_in
--                   − converted − disqualified − released − transferred_out, exactly.
-- Both are running sums of +1 at the month a holding starts and −1 at the month it ends.
with as_of as (

    select as_of_at, as_of_month from {{ ref('int_as_of') }}

),

users as (

    select user_id, department_id, role, hired_at, left_at
    from {{ ref('stg_crm__users') }}

),

-- Holdings as known at as_of: later starts are ignored and later ends are not yet ends.
holdings as (

    select
        intervals.holding_id,
        intervals.entity_type,
        intervals.entity_id,
        intervals.user_id,
        intervals.started_by,
        intervals.valid_from,
        case when intervals.valid_to <= as_of.as_of_at then intervals.valid_to end as valid_to,
        case when intervals.valid_to <= as_of.as_of_at then intervals.ended_by end as ended_by
    from {{ ref('int_ownership_intervals') }} as intervals
    cross join as_of
    where intervals.valid_from <= as_of.as_of_at

),

entity_activities as (

    select 'lead' as entity_type, lead_id as entity_id, activity_at
    from {{ ref('stg_crm__activities') }}
    where lead_id is not null

    union all

    select 'account' as entity_type, account_id as entity_id, activity_at
    from {{ ref('stg_crm__activities') }}
    where account_id is not null

),

-- Idle holdings. The idle clock of a holding restarts at its start and at every activity on the
-- entity (by anyone) while it is held; it is idle from idle_days after the latest of those until the
-- next one. So a holding is idle at an instant when it is held then and neither an activity nor its
-- own start happened in the idle_days before (a lead handed over yesterday is not idle yet).
idle_clock_marks as (

    select holding_id, user_id, entity_type, valid_from as mark_at, valid_to
    from holdings

    union all

    select holdings.holding_id, holdings.user_id, holdings.entity_type, entity_activities.activity_at as mark_at, holdings.valid_to
    from holdings
    inner join entity_activities
        on holdings.entity_type = entity_activities.entity_type
        and holdings.entity_id = entity_activities.entity_id
        and entity_activities.activity_at >= holdings.valid_from
        and (holdings.valid_to is null or entity_activities.activity_at < holdings.valid_to)
    cross join as_of
    where entity_activities.activity_at <= as_of.as_of_at

),

idle_segments as (

    select
        user_id,
        entity_type,
        mark_at + interval '{{ var("idle_days") }} days' as idle_from,
        coalesce(lead(mark_at) over (partition by holding_id order by mark_at), valid_to) as idle_to
    from idle_clock_marks

),

idle_periods as (

    select user_id, entity_type, idle_from, idle_to
    from idle_segments
    cross join as_of
    where idle_segments.idle_from <= as_of.as_of_at
        and (idle_segments.idle_to is null or idle_segments.idle_from < idle_segments.idle_to)

),

-- +1 in the month something starts, −1 in the month it ends (month-level deltas per user).
holding_starts as (

    select
        user_id,
        cast(date_trunc('month', valid_from) as date) as month,
        count(*) as started,
        count(*) filter (where entity_type = 'lead') as lead_started,
        count(*) filter (where started_by = 'assigned') as assigned,
        count(*) filter (where started_by = 'claimed') as claimed,
        count(*) filter (where started_by = 'transferred') as transferred_in
    from holdings
    group by 1, 2

),

holding_ends as (

    select
        user_id,
        cast(date_trunc('month', valid_to) as date) as month,
        count(*) as ended,
        count(*) filter (where entity_type = 'lead') as lead_ended,
        count(*) filter (where ended_by = 'converted') as converted,
        count(*) filter (where ended_by = 'disqualified') as disqualified,
        count(*) filter (where ended_by = 'released') as released,
        -- the entity moved on to another owner (transfer, or re-assignment / claim over it)
        count(*) filter (where ended_by in ('assigned', 'claimed', 'transferred')) as transferred_out
    from holdings
    where valid_to is not null
    group by 1, 2

),

idle_starts as (

    select user_id, cast(date_trunc('month', idle_from) as date) as month, count(*) as idle_started
    from idle_periods
    group by 1, 2

),

idle_ends as (

    select user_id, cast(date_trunc('month', idle_to) as date) as month, count(*) as idle_ended
    from idle_periods
    where idle_to is not null
    group by 1, 2

),

months as (

    select {{ cl_unnest_months('first_month', 'last_month', 'month') }}
    from (
        select
            cast(date_trunc('month', {{ plausible_date('min(holdings.valid_from)') }}) as date) as first_month,
            max(as_of.as_of_month) as last_month
        from holdings
        cross join as_of
    ) as bounds

),

holders as (

    select distinct user_id from holdings

),

user_months as (

    select
        months.month,
        holders.user_id,
        users.department_id,
        coalesce(holding_starts.started, 0) as started,
        coalesce(holding_starts.lead_started, 0) as lead_started,
        coalesce(holding_starts.assigned, 0) as assigned,
        coalesce(holding_starts.claimed, 0) as claimed,
        coalesce(holding_starts.transferred_in, 0) as transferred_in,
        coalesce(holding_ends.ended, 0) as ended,
        coalesce(holding_ends.lead_ended, 0) as lead_ended,
        coalesce(holding_ends.converted, 0) as converted,
        coalesce(holding_ends.disqualified, 0) as disqualified,
        coalesce(holding_ends.released, 0) as released,
        coalesce(holding_ends.transferred_out, 0) as transferred_out,
        coalesce(idle_starts.idle_started, 0) - coalesce(idle_ends.idle_ended, 0) as idle_delta
    from months
    cross join holders
    left join users
        on holders.user_id = users.user_id
    left join holding_starts
        on holders.user_id = holding_starts.user_id
        and months.month = holding_starts.month
    left join holding_ends
        on holders.user_id = holding_ends.user_id
        and months.month = holding_ends.month
    left join idle_starts
        on holders.user_id = idle_starts.user_id
        and months.month = idle_starts.month
    left join idle_ends
        on holders.user_id = idle_ends.user_id
        and months.month = idle_ends.month

),

user_running as (

    select
        *,
        sum(started - ended) over user_history as holdings_end,
        sum(lead_started - lead_ended) over user_history as lead_holdings_end,
        sum(idle_delta) over user_history as idle_holdings
    from user_months
    window user_history as (partition by user_id order by month rows between unbounded preceding and current row)

),

user_rows as (

    select
        month,
        department_id,
        user_id,
        holdings_end - started + ended as holdings_start,
        holdings_end,
        lead_holdings_end,
        holdings_end - lead_holdings_end as account_holdings_end,
        assigned,
        claimed,
        transferred_in,
        converted,
        disqualified,
        released,
        transferred_out,
        idle_holdings
    from user_running

),

-- Active rep: a sales or sdr user employed at some point of the month.
active_reps as (

    select
        months.month,
        users.department_id,
        grouping(users.department_id) = 1 as is_company_row,
        count(*) as active_reps
    from months
    inner join users
        on users.role in ('sales', 'sdr')
        and (users.hired_at is null or users.hired_at < months.month + interval 1 month)
        and (users.left_at is null or users.left_at >= months.month)
    group by grouping sets ((months.month, users.department_id), (months.month))

),

rollups as (

    select
        month,
        department_id,
        grouping(department_id) = 1 as is_company_row,
        sum(holdings_start) as holdings_start,
        sum(holdings_end) as holdings_end,
        sum(lead_holdings_end) as lead_holdings_end,
        sum(account_holdings_end) as account_holdings_end,
        sum(assigned) as assigned,
        sum(claimed) as claimed,
        sum(transferred_in) as transferred_in,
        sum(converted) as converted,
        sum(disqualified) as disqualified,
        sum(released) as released,
        sum(transferred_out) as transferred_out,
        sum(idle_holdings) as idle_holdings
    from user_rows
    group by grouping sets ((month, department_id), (month))

),

-- holdings of users missing from the users export reach the company rows only
reportable_rollups as (

    select *
    from rollups
    where is_company_row or department_id is not null

),

group_rows as (

    select
        coalesce(rollups.month, active_reps.month) as month,
        coalesce(rollups.department_id, active_reps.department_id) as department_id,
        cast(null as string) as user_id,
        case when coalesce(rollups.is_company_row, active_reps.is_company_row) then 'company' else 'department' end as row_level,
        coalesce(rollups.holdings_start, 0) as holdings_start,
        coalesce(rollups.holdings_end, 0) as holdings_end,
        coalesce(rollups.lead_holdings_end, 0) as lead_holdings_end,
        coalesce(rollups.account_holdings_end, 0) as account_holdings_end,
        coalesce(rollups.assigned, 0) as assigned,
        coalesce(rollups.claimed, 0) as claimed,
        coalesce(rollups.transferred_in, 0) as transferred_in,
        coalesce(rollups.converted, 0) as converted,
        coalesce(rollups.disqualified, 0) as disqualified,
        coalesce(rollups.released, 0) as released,
        coalesce(rollups.transferred_out, 0) as transferred_out,
        coalesce(rollups.idle_holdings, 0) as idle_holdings,
        coalesce(active_reps.active_reps, 0) as active_reps
    from reportable_rollups as rollups
    full outer join active_reps
        on rollups.month = active_reps.month
        and rollups.is_company_row = active_reps.is_company_row
        and rollups.department_id is not distinct from active_reps.department_id

),

all_rows as (

    select
        month,
        department_id,
        user_id,
        'user' as row_level,
        holdings_start,
        holdings_end,
        lead_holdings_end,
        account_holdings_end,
        assigned,
        claimed,
        transferred_in,
        converted,
        disqualified,
        released,
        transferred_out,
        idle_holdings,
        cast(null as bigint) as active_reps
    from user_rows
    -- a user month with nothing held and nothing moving says nothing
    where holdings_start <> 0 or holdings_end <> 0 or assigned + claimed + transferred_in <> 0
        or converted + disqualified + released + transferred_out <> 0

    union all

    select * from group_rows
    where row_level = 'company'
        or holdings_start <> 0 or holdings_end <> 0 or assigned + claimed + transferred_in <> 0
        or converted + disqualified + released + transferred_out <> 0 or active_reps <> 0

),

final as (

    select
        month,
        cast(department_id as string) as department_id,
        cast(user_id as string) as user_id,
        cast(row_level as string) as row_level,
        cast(holdings_start as bigint) as holdings_start,
        cast(holdings_end as bigint) as holdings_end,
        cast(lead_holdings_end as bigint) as lead_holdings_end,
        cast(account_holdings_end as bigint) as account_holdings_end,
        cast(assigned as bigint) as assigned,
        cast(claimed as bigint) as claimed,
        cast(transferred_in as bigint) as transferred_in,
        cast(converted as bigint) as converted,
        cast(disqualified as bigint) as disqualified,
        cast(released as bigint) as released,
        cast(transferred_out as bigint) as transferred_out,
        cast(idle_holdings as bigint) as idle_holdings,
        cast(active_reps as bigint) as active_reps,
        {{ safe_ratio('converted + released', '(holdings_start + holdings_end) / ' ~ cl_double_literal('2.0')) }} as turnover_rate,
        case when row_level <> 'user' then {{ safe_ratio('holdings_end', 'active_reps') }} end as holdings_per_rep
    from all_rows

)

select * from final
