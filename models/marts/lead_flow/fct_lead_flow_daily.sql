-- Day × department × channel lead flow, plus company-wide rows (department_id null) per day × channel.
-- Department = department of the lead's current owner (one department per lead, so the backlog adds
-- up); leads without an owning department are in the company rows only.
-- Milestones (created, contacted, mql, sql, converted, disqualified) count leads, once each, on the
-- day they reached it; assigned, claimed and released count ownership events as logged.
-- Open backlog at day end = leads created by then and not yet closed (converted or disqualified),
-- a running sum of opens minus closes, never a day × lead expansion.
-- Incremental (config in the model YAML): the change sets it reads its affected keys from.
-- depends_on: {{ ref('int_incremental__changed_leads') }}
-- depends_on: {{ ref('int_incremental__watermarks') }}
with leads as (

    select
        lead_id,
        department_id,
        channel,
        created_at,
        first_assigned_at,
        first_response_at,
        mql_at,
        sql_at,
        converted_at,
        disqualified_at,
        final_status,
        -- a lead closed without a known time never enters the open backlog
        case when final_status <> 'open' then coalesce(closed_at, created_at) end as backlog_closed_at
    from {{ ref('fct_leads') }}

),

ownership_events as (

    select entity_id as lead_id, event_at, event_type
    from {{ ref('stg_crm__ownership_events') }}
    where entity_type = 'lead'
        and event_type in ('assigned', 'claimed', 'released')

),

as_of as (

    select as_of_date from {{ ref('int_as_of') }}

),

-- An incremental build recounts the days from the first one a change can reach (macros/incremental.sql) and keeps
-- the days before it, running backlog included; a full build counts from the beginning.
recount as (

    {% if is_incremental_run() -%}
    {{ incremental_lead_flow_cutoff() }} /* closedloop: incremental, affected keys only */
    {%- else -%}
    select {{ cl_minus_infinity('date') }} as cutoff_date
    {%- endif %}

),

-- One row per (lead, measure, day): unpivoted milestones, then the logged ownership events.
lead_milestones as (

    select lead_id, department_id, channel, 'created' as measure, cast(created_at as date) as flow_date from leads
    union all
    select lead_id, department_id, channel, 'first_assigned', cast(first_assigned_at as date) from leads where first_assigned_at is not null
    union all
    select lead_id, department_id, channel, 'contacted', cast(first_response_at as date) from leads where first_response_at is not null
    union all
    select lead_id, department_id, channel, 'mql', cast(mql_at as date) from leads where mql_at is not null
    union all
    select lead_id, department_id, channel, 'sql', cast(sql_at as date) from leads where sql_at is not null
    union all
    select lead_id, department_id, channel, 'converted', cast(converted_at as date) from leads where final_status = 'converted' and converted_at is not null
    union all
    select lead_id, department_id, channel, 'disqualified', cast(disqualified_at as date) from leads where final_status = 'disqualified' and disqualified_at is not null
    union all
    select lead_id, department_id, channel, 'closed', cast(backlog_closed_at as date) from leads where backlog_closed_at is not null

),

ownership_flows as (

    select leads.lead_id, leads.department_id, leads.channel, ownership_events.event_type as measure, cast(ownership_events.event_at as date) as flow_date
    from ownership_events
    -- an ownership event on a lead missing from the leads export has no channel to report under
    inner join leads
        on ownership_events.lead_id = leads.lead_id

),

flows as (

    select * from (
        select * from lead_milestones
        union all
        select * from ownership_flows
    )
    where flow_date >= (select cutoff_date from recount)

),

daily_counts as (

    select
        flow_date,
        department_id,
        channel,
        grouping(department_id) = 1 as is_company_row,
        count(*) filter (where measure = 'created') as created,
        count(*) filter (where measure = 'first_assigned') as first_assigned,
        count(*) filter (where measure = 'assigned') as assigned,
        count(*) filter (where measure = 'claimed') as claimed,
        count(*) filter (where measure = 'released') as released,
        count(*) filter (where measure = 'contacted') as contacted,
        count(*) filter (where measure = 'mql') as mql,
        count(*) filter (where measure = 'sql') as sql,
        count(*) filter (where measure = 'converted') as converted,
        count(*) filter (where measure = 'disqualified') as disqualified,
        count(*) filter (where measure = 'closed') as closed
    from flows
    cross join as_of
    where flows.flow_date <= as_of.as_of_date
    group by grouping sets ((flow_date, department_id, channel), (flow_date, channel))

),

-- department rows need a department; the company rows (department_id null) hold everything
reportable_counts as (

    select *
    from daily_counts
    where is_company_row or department_id is not null

),

-- A dense day spine per department × channel (from its first day to as_of) so the backlog is
-- readable on every day: days × groups, a few hundred thousand rows at most.
counted_spans as (

    select department_id, channel, is_company_row, min(flow_date) as first_date
    from reportable_counts
    group by department_id, channel, is_company_row

),

-- the groups of the kept days, with the day each began and its backlog at the end of the last kept day
kept_spans as (

    {% if is_incremental_run() -%}
    select
        department_id,
        channel,
        department_id is null as is_company_row,
        min(flow_date) as first_date,
        {{ cl_arg_max('open_backlog', 'flow_date') }} as kept_backlog
    from {{ this }}
    where flow_date < (select cutoff_date from recount)
    group by department_id, channel
    {%- else -%}
    select
        cast(null as string) as department_id,
        cast(null as string) as channel,
        cast(null as boolean) as is_company_row,
        cast(null as date) as first_date,
        cast(null as bigint) as kept_backlog
    where false
    {%- endif %}

),

group_spans as (

    select
        coalesce(kept_spans.department_id, counted_spans.department_id) as department_id,
        coalesce(kept_spans.channel, counted_spans.channel) as channel,
        coalesce(kept_spans.is_company_row, counted_spans.is_company_row) as is_company_row,
        -- the recount starts at the cutoff for a group that already has kept days
        case when kept_spans.first_date is not null then (select cutoff_date from recount)
             else counted_spans.first_date end as first_date,
        coalesce(kept_spans.kept_backlog, 0) as kept_backlog
    from kept_spans
    full outer join counted_spans
        on kept_spans.is_company_row = counted_spans.is_company_row
       and kept_spans.department_id is not distinct from counted_spans.department_id
       and kept_spans.channel is not distinct from counted_spans.channel

),

spine as (

    select
        group_spans.department_id,
        group_spans.channel,
        group_spans.is_company_row,
        group_spans.kept_backlog,
        {{ cl_unnest_days(plausible_date('group_spans.first_date'), 'as_of.as_of_date', 'flow_date') }}
    from group_spans
    cross join as_of

),

filled as (

    select
        spine.flow_date,
        spine.department_id,
        spine.channel,
        spine.kept_backlog,
        coalesce(reportable_counts.created, 0) as created,
        coalesce(reportable_counts.first_assigned, 0) as first_assigned,
        coalesce(reportable_counts.assigned, 0) as assigned,
        coalesce(reportable_counts.claimed, 0) as claimed,
        coalesce(reportable_counts.released, 0) as released,
        coalesce(reportable_counts.contacted, 0) as contacted,
        coalesce(reportable_counts.mql, 0) as mql,
        coalesce(reportable_counts.sql, 0) as sql,
        coalesce(reportable_counts.converted, 0) as converted,
        coalesce(reportable_counts.disqualified, 0) as disqualified,
        coalesce(reportable_counts.closed, 0) as closed
    from spine
    left join reportable_counts
        on spine.flow_date = reportable_counts.flow_date
        and spine.channel = reportable_counts.channel
        and spine.is_company_row = reportable_counts.is_company_row
        and spine.department_id is not distinct from reportable_counts.department_id

),

final as (

    select
        flow_date,
        department_id,
        channel,
        cast(created as bigint) as created,
        cast(first_assigned as bigint) as first_assigned,
        cast(assigned as bigint) as assigned,
        cast(claimed as bigint) as claimed,
        cast(released as bigint) as released,
        cast(contacted as bigint) as contacted,
        cast(mql as bigint) as mql,
        cast(sql as bigint) as sql,
        cast(converted as bigint) as converted,
        cast(disqualified as bigint) as disqualified,
        cast(closed as bigint) as closed,
        cast(kept_backlog + sum(created - closed) over (
            partition by department_id, channel
            order by flow_date
            rows between unbounded preceding and current row
        ) as bigint) as open_backlog
    from filled

)

select * from final
