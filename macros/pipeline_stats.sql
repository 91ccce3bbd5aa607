{# The shared Wilson bounds (macros/stats.sql) with their exact end points: at 0 successes the lower bound is
   0 and at n successes the upper bound is 1. The closed formula lands a rounding error away (4.9e-17 for 0 of 3,
   0.9999999999999999 for 10 of 10), which a dashboard would print as "0.0000%" or "100.00%" and a test of the
   edge cases cannot pin down. Pure guards: the formula stays in stats.sql. #}

{% macro pipeline_wilson_low(successes, trials) -%}
    case when coalesce({{ trials }}, 0) > 0 and ({{ successes }}) = 0 then 0.0 else {{ wilson_low(successes, trials) }} end
{%- endmacro %}

{% macro pipeline_wilson_high(successes, trials) -%}
    case when coalesce({{ trials }}, 0) > 0 and ({{ successes }}) = ({{ trials }}) then 1.0 else {{ wilson_high(successes, trials) }} end
{%- endmacro %}
