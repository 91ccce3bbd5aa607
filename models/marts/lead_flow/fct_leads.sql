-- One row per lead: where it came from, who owns it, how fast it was answered, how far it got.
-- SLA rule (docs/metrics.md#lead-response-and-sla): from the first assignment to the first response; met within
-- lead_sla_days workdays (int_working_days; plain days under var sla_calendar = 'calendar'), missed when answered later or not answered once the window has passed (as of
-- int_as_of), pending before. A lead never assigned has no SLA clock: sla_status is null.
-- Incremental (config in the model YAML): the change sets it reads its affected keys from.
-- depends_on: {{ ref('int_incremental__changed_leads') }}
-- depends_on: {{ ref('int_incremental__watermarks') }}
with leads as (

    select lead_id, created_at, channel, campaign_id, owner_user_id
    from {{ ref('stg_crm__leads') }}
    -- an incremental build recomputes the changed leads and the ones whose SLA may have run out since
    where {{ incremental_only('lead_id', 'incremental_changed_lead_facts') }}

),

timeline as (

    select * from {{ ref('int_lead_timeline') }}
    where {{ incremental_only('lead_id', 'incremental_changed_lead_facts') }}

),

users as (

    select user_id, department_id
    from {{ ref('stg_crm__users') }}

),

as_of as (

    select as_of_at from {{ ref('int_as_of') }}

),

lead_persons as (

    select * from {{ ref('int_identity__lead_persons') }}
    where {{ incremental_only('lead_id', 'incremental_changed_lead_facts') }}

),

working_days as (

    select * from {{ ref('int_working_days') }}

),

responses as (

    select
        timeline.*,
        -- lead_sla_days counts workdays (docs/metrics.md#working-time): due at the assignment's time of day on the
        -- lead_sla_days-th workday after its date
        {{ dbt.dateadd('day', dbt.datediff('assigned_day.date_day', 'due_day.date_day', 'day'),
                       'timeline.first_assigned_at') }} as sla_due_at,
        case
            when timeline.first_assigned_at is not null and timeline.first_response_at is not null
                then {{ cl_seconds_between('timeline.first_assigned_at', 'timeline.first_response_at') }} / cast(3600 as double)
        end as response_hours,
        case
            when timeline.first_assigned_at is not null and timeline.first_response_at is not null
                then (({{ cl_working_seconds_at('timeline.first_response_at', 'response_day') }})
                      - ({{ cl_working_seconds_at('timeline.first_assigned_at', 'assigned_day') }})) / cast(3600 as double)
        end as response_working_hours
    from timeline
    left join working_days as assigned_day
        on assigned_day.date_day = cast(timeline.first_assigned_at as date)
    left join working_days as due_day
        on due_day.workday_number = assigned_day.workday_number + {{ var('lead_sla_days') }}
        and due_day.is_workday
    left join working_days as response_day
        on response_day.date_day = cast(timeline.first_response_at as date)

),

sla as (

    select
        responses.*,
        case
            when responses.first_assigned_at is null then null
            when responses.first_response_at is not null and responses.first_response_at <= responses.sla_due_at then 'met'
            -- answered late, or not answered and the window has closed
            when responses.first_response_at is not null then 'missed'
            when as_of.as_of_at >= responses.sla_due_at then 'missed'
            else 'pending'
        end as sla_status
    from responses
    cross join as_of

),

final as (

    select
        leads.lead_id,
        leads.created_at,
        leads.channel,
        leads.campaign_id,
        leads.owner_user_id,
        users.department_id,
        sla.first_assigned_at,
        sla.first_assigned_user_id,
        sla.first_response_at,
        cast(sla.response_hours as double) as response_hours,
        cast(sla.response_working_hours as double) as response_working_hours,
        sla.sla_due_at,
        sla.sla_status,
        coalesce(sla.sla_status in ('met', 'missed'), false) as is_sla_calc,
        coalesce(sla.sla_status = 'met', false) as is_sla_met,
        sla.is_mql,
        sla.mql_at,
        sla.is_sql,
        sla.sql_at,
        sla.is_converted,
        sla.converted_at,
        sla.opportunity_id,
        sla.is_disqualified,
        sla.disqualified_at,
        sla.closed_at,
        cast(sla.release_count as integer) as release_count,
        sla.first_released_at,
        sla.is_recovered,
        sla.final_status,
        sla.disqualify_reason,
        sla.source_status,
        lead_persons.person_id,
        lead_persons.duplicate_of_lead_id,
        lead_persons.duplicate_of_lead_id is not null as is_duplicate
    from leads
    inner join sla
        on leads.lead_id = sla.lead_id
    left join lead_persons
        on leads.lead_id = lead_persons.lead_id
    left join users
        on leads.owner_user_id = users.user_id

)

select * from final
