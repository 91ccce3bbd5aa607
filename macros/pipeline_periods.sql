{# Reporting periods of the pipeline marts. Quarters and half-years follow the fiscal year (var
   `fiscal_year_start_month`, 1 = calendar), so a company whose year starts in April gets Apr–Jun as Q1. #}

{# Number of months in a period grain: month, quarter or half_year. #}
{% macro pipeline_period_months(grain) -%}
    {%- if grain == 'month' -%}1
    {%- elif grain == 'quarter' -%}3
    {%- elif grain == 'half_year' -%}6
    {%- else -%}{{ exceptions.raise_compiler_error("pipeline_period_months: unknown grain " ~ grain) }}
    {%- endif -%}
{%- endmacro %}

{# First day of the period (of the given grain) that contains the date `month_col`. Shifting by the fiscal
   start month, truncating, and shifting back keeps one expression for calendar and fiscal years. #}
{% macro pipeline_period_start(grain, month_col) -%}
    {%- set shift = var('fiscal_year_start_month', 1) | int - 1 -%}
    {%- if grain == 'month' -%}
        cast(date_trunc('month', {{ month_col }}) as date)
    {%- else -%}
        {%- set shifted -%}(cast(date_trunc('month', {{ month_col }}) as date) - interval '{{ shift }} month'){%- endset -%}
        {%- if grain == 'quarter' -%}
            cast(date_trunc('quarter', {{ shifted }}) + interval '{{ shift }} month' as date)
        {%- elif grain == 'half_year' -%}
            cast(make_date(cast(year({{ shifted }}) as integer), case when month({{ shifted }}) <= 6 then 1 else 7 end, 1)
                 + interval '{{ shift }} month' as date)
        {%- else -%}
            {{ exceptions.raise_compiler_error("pipeline_period_start: unknown grain " ~ grain) }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{# Days between two timestamps as a fraction (a stage entered at 09:00 and left at 21:00 spent 0.5 days). #}
{% macro pipeline_days_between(start_ts, end_ts) -%}
    ({{ cl_epoch_seconds(end_ts) }} - {{ cl_epoch_seconds(start_ts) }}) / cast(86400 as double)
{%- endmacro %}
