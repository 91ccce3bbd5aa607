-- One row per day from the first business date of the data to well past the as-of day: whether it is a workday
-- (business_calendar seed: China's statutory holidays and 调休 make-up workdays; Monday–Friday for days the seed
-- does not hold; every day under var sla_calendar = 'calendar'), its running workday number, and the working
-- seconds before it (var workday_hours per workday). SLA due dates and response working hours read it
-- (docs/metrics.md#working-time).
{%- if var('sla_calendar') not in ('business', 'calendar') %}
    {{ exceptions.raise_compiler_error("var sla_calendar is '" ~ var('sla_calendar') ~ "': use business (workdays of the business_calendar seed) or calendar (every day)") }}
{%- endif %}
with calendar_bounds as (

    select min(date_day) as start_date from {{ ref('dim_date') }}

),

as_of as (

    -- a lead assigned on the as-of day still needs its lead_sla_days workdays ahead, across any holiday
    select {{ dbt.dateadd('day', var('lead_sla_days') * 3 + 40, 'as_of_date') }} as end_date
    from {{ ref('int_as_of') }}

),

spine as (

    {{ date_spine('calendar_bounds.start_date', 'as_of.end_date', 'calendar_bounds cross join as_of') }}

),

seed_days as (

    select date as calendar_date, is_workday, holiday_name
    from {{ ref('business_calendar') }}

),

days as (

    select
        spine.date_day,
        {% if var('sla_calendar') == 'calendar' -%}
        true as is_workday,
        {%- else -%}
        coalesce(seed_days.is_workday, {{ cl_iso_day_of_week('spine.date_day') }} <= 5) as is_workday,
        {%- endif %}
        seed_days.holiday_name,
        seed_days.calendar_date is not null as is_in_calendar_seed
    from spine
    left join seed_days
        on spine.date_day = seed_days.calendar_date

),

numbered as (

    select
        days.*,
        sum(case when is_workday then 1 else 0 end) over (
            order by date_day rows between unbounded preceding and current row) as workday_number
    from days

),

final as (

    {%- set window = cl_workday_window() %}
    select
        date_day,
        is_workday,
        holiday_name,
        is_in_calendar_seed,
        cast(workday_number as bigint) as workday_number,
        cast((workday_number - case when is_workday then 1 else 0 end) * {{ window[1] - window[0] }} as bigint)
            as working_seconds_before
    from numbered

)

select * from final
