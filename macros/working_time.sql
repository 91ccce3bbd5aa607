{# Working time (docs/metrics.md#working-time): helpers over int_working_days, portable through dbt's cross-database
   datediff/dateadd (no engine-only date functions). #}

{# ISO day of week (1 = Monday … 7 = Sunday) counted from a known Monday, so no engine's dow numbering leaks in. #}
{% macro cl_iso_day_of_week(date_expr) -%}
    (({{ dbt.datediff("cast('2001-01-01' as date)", date_expr, 'day') }}) % 7 + 7) % 7 + 1
{%- endmacro %}

{# Seconds of the workday window from var workday_hours ["HH:MM", "HH:MM"]: (start, end) since midnight. #}
{% macro cl_workday_window() -%}
    {%- set hours = var('workday_hours') -%}
    {%- set start = hours[0].split(':') -%}
    {%- set stop = hours[1].split(':') -%}
    {{ return((start[0] | int * 3600 + start[1] | int * 60, stop[0] | int * 3600 + stop[1] | int * 60)) }}
{%- endmacro %}

{# Working seconds from the calendar's first day to `ts`, given `days` = the int_working_days row of ts's date:
   the whole workdays before it plus the part of its own workday window already gone. The difference of two is
   the working time between two instants. #}
{% macro cl_working_seconds_at(ts, days) -%}
    {%- set window = cl_workday_window() -%}
    {{ days }}.working_seconds_before + case when {{ days }}.is_workday then least(greatest(
        {{ dbt.datediff("cast(cast(" ~ ts ~ " as date) as timestamp)", ts, 'second') }} - {{ window[0] }}, 0),
        {{ window[1] - window[0] }}) else 0 end
{%- endmacro %}
