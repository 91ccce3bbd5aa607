{# Month helpers of the customer domain, one definition each. #}

{# Number of months a subscription lasts: its days (start and end inclusive) over the mean month length
   (365.25 / 12 days), rounded, at least 1. 2026-01-01..2026-12-31 and 2026-01-15..2027-01-14 are both 12;
   2026-02-01..2026-02-28 is 1. Rounding keeps a mid-month start from spreading over 13 calendar months. #}
{% macro customer_subscription_months(start_col, end_col) -%}
    greatest(1, cast(round(date_diff('day', {{ start_col }}, {{ end_col }} + 1) / (365.25 / 12)) as integer))
{%- endmacro %}

{# Calendar months from month_a to month_b (both first days of a month): 0 for the same month. #}
{% macro customer_months_between(month_a, month_b) -%}
    ((year({{ month_b }}) - year({{ month_a }})) * 12 + month({{ month_b }}) - month({{ month_a }}))
{%- endmacro %}
