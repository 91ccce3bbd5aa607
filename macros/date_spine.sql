{# One row per day from start_date to end_date inclusive, as `date_day` (date), both clamped to the plausible
   dates (below). DuckDB's generate_series (Spark's sequence: cl_unnest_days) builds it in one pass; written here because dbt_utils cannot be
   installed offline. Both arguments are SQL expressions over `from_clause` (one row: a one-row CTE, or a cross
   join of two), or literals without it. Columns of a from clause rather than scalar subqueries: Spark 4.3 fails
   to ship a scalar subquery over a union into the task that expands the series (a ClassCastException on
   UnionExec.children, seen with dim_date's union of earliest dates). #}
{% macro date_spine(start_date, end_date, from_clause=none) -%}
    select {{ cl_unnest_days(plausible_date(start_date), plausible_date(end_date), 'date_day') }}
    {%- if from_clause %}
    from {{ from_clause }}
    {%- endif %}
{%- endmacro %}

{# Every series over dates is bounded by the plausible range (vars min_plausible_date, max_plausible_date):
   validation sets aside a value outside it (`implausible_date`), and a date that reaches a model some other way
   (the as_of var, a hand-made landing) stretches a spine to that range at most, never over millennia. The
   clamps are the models' business; they change nothing for plausible data. #}
{% macro plausible_date(expr) -%}
    least(greatest(cast({{ expr }} as date), cast('{{ var("min_plausible_date") }}' as date)),
          cast('{{ var("max_plausible_date") }}' as date))
{%- endmacro %}

{% macro plausible_timestamp(expr) -%}
    least(greatest(cast({{ expr }} as timestamp), cast('{{ var("min_plausible_date") }}' as timestamp)),
          cast('{{ var("max_plausible_date") }}' as timestamp) + interval 1 day - interval 1 microsecond)
{%- endmacro %}

{# A count of months (a range's length) capped at the months of the plausible range. #}
{% macro plausible_months(expr) -%}
    least({{ expr }}, {{ customer_months_between(
        "cast('" ~ var('min_plausible_date') ~ "' as date)", "cast('" ~ var('max_plausible_date') ~ "' as date)") }} + 1)
{%- endmacro %}
