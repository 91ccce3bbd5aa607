-- The latest event time of every log an incremental model reads, and the as-of instant: now and at the previous
-- build (this table as the warehouse the build started from held it). A log's rows dated from its previous latest
-- time minus `incremental_lookback_days` on are the look-back window: new rows, and rows that arrived late.
-- Event times are business times from the data, never file names or load times, so a re-sent file changes nothing.
{%- set previous = cl_previous_relation() %}
with current_marks as (

    select 'lead_events' as source_name, max(event_at) as high_water_at from {{ ref('stg_crm__lead_events') }}
    union all
    select 'ownership_events', max(event_at) from {{ ref('stg_crm__ownership_events') }}
    union all
    select 'activities', max(activity_at) from {{ ref('stg_crm__activities') }}
    union all
    select 'opportunity_stage_history', max(entered_at) from {{ ref('stg_crm__opportunity_stage_history') }}
    union all
    select 'as_of', as_of_at from {{ ref('int_as_of') }}

),

previous_marks as (

    {% if previous is not none -%}
    select source_name, high_water_at from {{ this }}
    {%- else -%}
    -- the first build: there is no previous state, every row is new
    select cast(null as string) as source_name, cast(null as timestamp) as high_water_at where false
    {%- endif %}

),

final as (

    select
        current_marks.source_name,
        current_marks.high_water_at,
        previous_marks.high_water_at as previous_high_water_at,
        previous_marks.high_water_at - interval '{{ var("incremental_lookback_days", 3) }} days' as window_start_at
    from current_marks
    left join previous_marks
        on current_marks.source_name = previous_marks.source_name

)

select * from final
