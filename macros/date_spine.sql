{# One row per day from start_date to end_date inclusive, as `date_day` (date). DuckDB's generate_series
   builds it in one pass; written here because dbt_utils cannot be installed offline. Both arguments are
   SQL expressions (a column of a one-row CTE, a literal cast, …). #}
{% macro date_spine(start_date, end_date) -%}
    select cast(unnest(generate_series(
        cast({{ start_date }} as timestamp),
        cast({{ end_date }} as timestamp),
        interval 1 day)) as date) as date_day
{%- endmacro %}
