-- One row per lead with the times of its milestones, replayed from the lead and ownership logs.
-- Metric rules (SLA, recovery, funnel flags) build on these times in fct_leads; the ownership replay
-- (int_ownership_intervals) reads closed_at from here to end a lead's holding.
-- Incremental (config in the model YAML): the change sets it reads its affected keys from.
-- depends_on: {{ ref('int_incremental__changed_leads') }}
with leads as (

    select
        lead_id,
        created_at,
        status,
        converted_at,
        converted_opportunity_id,
        disqualify_reason
    from {{ ref('stg_crm__leads') }}
    -- an incremental build replays only the changed leads (each lead's replay reads that lead's rows alone)
    where {{ incremental_only('lead_id', 'incremental_changed_leads') }}

),

lead_events as (

    select lead_id, event_at, event_type, reason
    from {{ ref('stg_crm__lead_events') }}
    where {{ incremental_only('lead_id', 'incremental_changed_leads') }}

),

lead_ownership_events as (

    select
        entity_id as lead_id,
        event_at,
        event_type,
        user_id,
        ownership_event_id
    from {{ ref('stg_crm__ownership_events') }}
    where entity_type = 'lead'
      and {{ incremental_only('entity_id', 'incremental_changed_leads') }}

),

lead_activities as (

    select lead_id, activity_at
    from {{ ref('stg_crm__activities') }}
    where lead_id is not null
      and {{ incremental_only('lead_id', 'incremental_changed_leads') }}

),

primary_opportunities as (

    select lead_id, opportunity_id, opportunity_created_at
    from {{ ref('int_lead_opportunities') }}
    where is_primary_for_lead
      and {{ incremental_only('lead_id', 'incremental_changed_leads') }}

),

lead_event_times as (

    select
        lead_id,
        min(event_at) filter (where event_type = 'mql') as first_mql_event_at,
        min(event_at) filter (where event_type = 'sql') as first_sql_event_at,
        min(event_at) filter (where event_type = 'converted') as first_converted_event_at,
        -- a lead re-qualified and disqualified again is closed by its latest disqualification
        max(event_at) filter (where event_type = 'disqualified') as last_disqualified_event_at,
        {{ cl_arg_max('reason', 'event_at') }} filter (where event_type = 'disqualified') as last_disqualified_reason
    from lead_events
    group by lead_id

),

-- First assignment = the first `assigned` or `claimed` event (the SLA clock start). A `transferred`
-- event moves a lead that already had an owner, so it never starts the clock. Ties at the same instant
-- are broken like the ownership replay: assigned before claimed, then by user and event id.
assignment_events as (

    select
        lead_id,
        event_at,
        user_id,
        row_number() over (
            partition by lead_id
            order by
                event_at,
                case event_type when 'assigned' then 1 else 2 end,
                user_id nulls last,
                ownership_event_id
        ) as owner_event_seq
    from lead_ownership_events
    where event_type in ('assigned', 'claimed')

),

first_assignments as (

    select lead_id, event_at as first_assigned_at, user_id as first_assigned_user_id
    from assignment_events
    where owner_event_seq = 1

),

releases as (

    select lead_id, event_at as released_at
    from lead_ownership_events
    where event_type = 'released'

),

release_counts as (

    select
        lead_id,
        count(*) as release_count,
        min(released_at) as first_released_at,
        max(released_at) as last_released_at
    from releases
    group by lead_id

),

-- A response is a `contacted` event or any activity logged on the lead.
responses as (

    select lead_id, event_at as responded_at
    from lead_events
    where event_type = 'contacted'

    union all

    select lead_id, activity_at as responded_at
    from lead_activities

),

-- Only responses at or after the first assignment answer it; a lead never assigned keeps its first
-- response of any time (there is no assignment to measure from, fct_leads leaves its SLA null).
first_responses as (

    select
        responses.lead_id,
        min(responses.responded_at) filter (
            where first_assignments.first_assigned_at is null
                or responses.responded_at >= first_assignments.first_assigned_at
        ) as first_response_at,
        min(responses.responded_at) as first_any_response_at
    from responses
    left join first_assignments
        on responses.lead_id = first_assignments.lead_id
    group by responses.lead_id

),

conversions as (

    select
        leads.lead_id,
        -- converted when any source says so: the lead record, the event log or a linked opportunity
        coalesce(
            leads.converted_at is not null
            or leads.converted_opportunity_id is not null
            or lower(leads.status) = 'converted'
            or lead_event_times.first_converted_event_at is not null
            or primary_opportunities.opportunity_id is not null,
            false
        ) as is_converted,
        coalesce(
            leads.converted_at,
            lead_event_times.first_converted_event_at,
            primary_opportunities.opportunity_created_at
        ) as converted_at,
        coalesce(leads.converted_opportunity_id, primary_opportunities.opportunity_id) as opportunity_id
    from leads
    left join lead_event_times
        on leads.lead_id = lead_event_times.lead_id
    left join primary_opportunities
        on leads.lead_id = primary_opportunities.lead_id

),

joined as (

    select
        leads.lead_id,
        leads.created_at,
        leads.status as source_status,
        first_assignments.first_assigned_at,
        first_assignments.first_assigned_user_id,
        first_responses.first_response_at,
        first_responses.first_any_response_at,
        lead_event_times.first_mql_event_at,
        lead_event_times.first_sql_event_at,
        conversions.is_converted,
        case when conversions.is_converted then conversions.converted_at end as converted_at,
        conversions.opportunity_id,
        -- a conversion is final: an earlier disqualification was overturned
        coalesce(
            not conversions.is_converted
            and (lead_event_times.last_disqualified_event_at is not null or lower(leads.status) = 'disqualified'),
            false
        ) as is_disqualified,
        lead_event_times.last_disqualified_event_at,
        coalesce(leads.disqualify_reason, lead_event_times.last_disqualified_reason) as disqualify_reason,
        coalesce(release_counts.release_count, 0) as release_count,
        release_counts.first_released_at,
        release_counts.last_released_at
    from leads
    left join lead_event_times
        on leads.lead_id = lead_event_times.lead_id
    left join first_assignments
        on leads.lead_id = first_assignments.lead_id
    left join first_responses
        on leads.lead_id = first_responses.lead_id
    left join release_counts
        on leads.lead_id = release_counts.lead_id
    left join conversions
        on leads.lead_id = conversions.lead_id

),

-- Funnel flags are monotone like stage reach: a lead that reached SQL (or converted) without an
-- `mql` event still counts as MQL, at its SQL time; the *_event_at columns keep what was logged.
final as (

    select
        lead_id,
        created_at,
        source_status,
        first_assigned_at,
        first_assigned_user_id,
        first_response_at,
        first_any_response_at,
        first_mql_event_at,
        first_sql_event_at,
        (first_sql_event_at is not null or is_converted) as is_sql,
        coalesce(first_sql_event_at, converted_at) as sql_at,
        (first_mql_event_at is not null or first_sql_event_at is not null or is_converted) as is_mql,
        coalesce(first_mql_event_at, first_sql_event_at, converted_at) as mql_at,
        is_converted,
        converted_at,
        opportunity_id,
        is_disqualified,
        case when is_disqualified then last_disqualified_event_at end as disqualified_at,
        disqualify_reason,
        case
            when is_converted then 'converted'
            when is_disqualified then 'disqualified'
            else 'open'
        end as final_status,
        -- when the lead left the open backlog (and its owner's holdings); null while open or when the
        -- source gives a final status without a time
        case
            when is_converted then converted_at
            when is_disqualified then last_disqualified_event_at
        end as closed_at,
        release_count,
        first_released_at,
        last_released_at,
        -- Recovered lead: converted after at least one release to the pool. Without a conversion time
        -- any release counts (it can only have come before the conversion we cannot date).
        (
            is_converted
            and first_released_at is not null
            and (converted_at is null or first_released_at < converted_at)
        ) as is_recovered
    from joined

)

select * from final
