-- depends_on: {{ ref('int_identity__lead_persons') }}
-- The leads an incremental build recomputes: every lead whose own record changed, that an opportunity link now
-- points to or no longer points to, whose owner's user record changed, or that has a lead event, ownership event
-- or activity in the look-back window. One row per lead, with its flows as the previous build's fct_leads had them,
-- so fct_lead_flow_daily can tell which days to recount.
{%- set previous_facts = previous_relation('fct_leads') %}
with record_versions as (

    select * from {{ ref('int_incremental__record_versions') }}

),

changed_users as (

    select record_id as user_id from record_versions where record_type = 'user' and is_changed

),

affected as (

    select record_id as lead_id from record_versions where record_type = 'lead' and is_changed
    union all
    select linked_id from record_versions where record_type = 'opportunity_link' and is_changed
    union all
    select previous_linked_id from record_versions where record_type = 'opportunity_link' and is_changed
    union all
    select lead_id from {{ ref('stg_crm__leads') }} where owner_user_id in (select user_id from changed_users)
    union all
    select lead_id from {{ ref('stg_crm__lead_events') }}
    where event_at >= {{ incremental_window_start('lead_events') }}
    union all
    select entity_id from {{ ref('stg_crm__ownership_events') }}
    where entity_type = 'lead' and event_at >= {{ incremental_window_start('ownership_events') }}
    union all
    select lead_id from {{ ref('stg_crm__activities') }}
    where lead_id is not null and activity_at >= {{ incremental_window_start('activities') }}
    {%- if previous_facts is not none %}
    union all
    -- a new touch, lead or contact can merge two persons: every lead whose person or duplicate link moved
    select lead_persons.lead_id
    from {{ ref('int_identity__lead_persons') }} as lead_persons
    inner join {{ previous_facts }} as previous_leads
        on previous_leads.lead_id = lead_persons.lead_id
    where previous_leads.person_id is distinct from lead_persons.person_id
        or previous_leads.duplicate_of_lead_id is distinct from lead_persons.duplicate_of_lead_id
    {%- endif %}

),

leads as (

    select distinct lead_id from affected where lead_id is not null

),

previous_facts as (

    {% if previous_facts is not none -%}
    select
        lead_id, department_id, channel, created_at, first_assigned_at, first_response_at, mql_at, sql_at,
        converted_at, disqualified_at, closed_at, final_status
    from {{ previous_facts }}
    where lead_id in (select lead_id from leads)
    {%- else -%}
    -- no previous build: nothing to compare with (the incremental models are built in full)
    select
        cast(null as string) as lead_id, cast(null as string) as department_id, cast(null as string) as channel,
        cast(null as timestamp) as created_at, cast(null as timestamp) as first_assigned_at,
        cast(null as timestamp) as first_response_at, cast(null as timestamp) as mql_at,
        cast(null as timestamp) as sql_at, cast(null as timestamp) as converted_at,
        cast(null as timestamp) as disqualified_at, cast(null as timestamp) as closed_at,
        cast(null as string) as final_status
    where false
    {%- endif %}

),

final as (

    select
        leads.lead_id,
        previous_facts.lead_id is not null as had_previous_fact,
        previous_facts.department_id as previous_department_id,
        previous_facts.channel as previous_channel,
        previous_facts.created_at as previous_created_at,
        previous_facts.first_assigned_at as previous_first_assigned_at,
        previous_facts.first_response_at as previous_first_response_at,
        previous_facts.mql_at as previous_mql_at,
        previous_facts.sql_at as previous_sql_at,
        previous_facts.converted_at as previous_converted_at,
        previous_facts.disqualified_at as previous_disqualified_at,
        previous_facts.closed_at as previous_closed_at,
        previous_facts.final_status as previous_final_status
    from leads
    left join previous_facts
        on leads.lead_id = previous_facts.lead_id
    {%- if flags.FULL_REFRESH %}
    -- a full refresh rebuilds every model from scratch and reads no change set
    where false
    {%- endif %}

)

select * from final
