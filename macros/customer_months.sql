{# Month helpers of the customer domain, one definition each. #}

{# Number of months a subscription lasts: its days (start and end inclusive) over the mean month length
   (365.25 / 12 days), rounded, at least 1. 2026-01-01..2026-12-31 and 2026-01-15..2027-01-14 are both 12;
   2026-02-01..2026-02-28 is 1. Rounding keeps a mid-month start from spreading over 13 calendar months. #}
{% macro customer_subscription_months(start_col, end_col) -%}
    greatest(1, cast(round(({{ cl_days_between(start_col, end_col) }} + 1) / ({{ cl_double_literal('365.25') }} / 12)) as integer))
{%- endmacro %}

{# Calendar months from month_a to month_b (both first days of a month): 0 for the same month. #}
{% macro customer_months_between(month_a, month_b) -%}
    ((year({{ month_b }}) - year({{ month_a }})) * 12 + month({{ month_b }}) - month({{ month_a }}))
{%- endmacro %}

{# The order window (var `active_window_months`, default 12): an order without a subscription period keeps its
   account active this many months. One var for every rule that uses the window; the former name
   `customer_active_months` is refused with a message rather than silently ignored. #}
{% macro active_window_months() -%}
    {%- if var('customer_active_months', none) is not none -%}
        {{ exceptions.raise_compiler_error("var `customer_active_months` was renamed `active_window_months` (same meaning, default 12): set that one instead") }}
    {%- endif -%}
    {{ return(var('active_window_months', 12) | int) }}
{%- endmacro %}
