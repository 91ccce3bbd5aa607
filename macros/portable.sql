{# Cross-database forms of the DuckDB-only SQL the models use (docs/scaling-out.md lists each one). Every macro
   dispatches (`adapter.dispatch(name, 'closedloop')`): `duckdb__` keeps DuckDB's own, fast form; `default__` is
   written for Spark SQL (dbt-spark, dbt-databricks) and ANSI SQL where it can be. #}


{# Every column of `relation` (read as `alias`) but `columns`: DuckDB's `alias.* exclude (…)`. Elsewhere the
   columns are listed from the relation when the model runs. #}
{% macro cl_star_except(alias, relation, columns) -%}
    {{ return(adapter.dispatch('cl_star_except', 'closedloop')(alias, relation, columns)) }}
{%- endmacro %}

{% macro duckdb__cl_star_except(alias, relation, columns) -%}
    {{ alias }}.* exclude ({{ columns | join(', ') }})
{%- endmacro %}

{% macro default__cl_star_except(alias, relation, columns) -%}
    {%- if not execute -%}
        {{ alias }}.*
    {%- else -%}
        {%- set left_out = columns | map('lower') | list -%}
        {%- set kept = [] -%}
        {%- for column in adapter.get_columns_in_relation(relation) if column.name | lower not in left_out -%}
            {%- do kept.append(alias ~ '.' ~ adapter.quote(column.name)) -%}
        {%- endfor -%}
        {%- if not kept -%}
            {{ exceptions.raise_compiler_error('cl_star_except: no column of ' ~ relation ~ ' is left') }}
        {%- endif -%}
        {{ kept | join(', ') }}
    {%- endif -%}
{%- endmacro %}


{# Every match of `pattern` in `value` replaced (DuckDB needs the 'g' flag; Spark's regexp_replace replaces all). #}
{% macro cl_regexp_replace_all(value, pattern, replacement) -%}
    {{ return(adapter.dispatch('cl_regexp_replace_all', 'closedloop')(value, pattern, replacement)) }}
{%- endmacro %}

{% macro duckdb__cl_regexp_replace_all(value, pattern, replacement) -%}
    regexp_replace({{ value }}, {{ pattern }}, {{ replacement }}, 'g')
{%- endmacro %}

{% macro default__cl_regexp_replace_all(value, pattern, replacement) -%}
    regexp_replace({{ value }}, {{ pattern }}, {{ replacement }})
{%- endmacro %}


{# True when `pattern` matches somewhere in `value` (not anchored). #}
{% macro cl_regexp_matches(value, pattern) -%}
    {{ return(adapter.dispatch('cl_regexp_matches', 'closedloop')(value, pattern)) }}
{%- endmacro %}

{% macro duckdb__cl_regexp_matches(value, pattern) -%}
    regexp_matches({{ value }}, {{ pattern }})
{%- endmacro %}

{% macro default__cl_regexp_matches(value, pattern) -%}
    ({{ value }} rlike {{ pattern }})
{%- endmacro %}


{# A date `months` calendar months after `date_expr` (a month end stays in range: Jan 31 + 1 month = Feb 28), as a
   date. DuckDB's `date + to_months(n)` is a timestamp; Spark's add_months a date. #}
{% macro cl_add_months(date_expr, months) -%}
    {{ return(adapter.dispatch('cl_add_months', 'closedloop')(date_expr, months)) }}
{%- endmacro %}

{% macro duckdb__cl_add_months(date_expr, months) -%}
    cast({{ date_expr }} + to_months({{ months }}) as date)
{%- endmacro %}

{% macro default__cl_add_months(date_expr, months) -%}
    add_months(cast({{ date_expr }} as date), {{ months }})
{%- endmacro %}


{# A date `days` days after `date_expr` (negative: before), as a date. #}
{% macro cl_add_days(date_expr, days) -%}
    {{ return(adapter.dispatch('cl_add_days', 'closedloop')(date_expr, days)) }}
{%- endmacro %}

{% macro duckdb__cl_add_days(date_expr, days) -%}
    cast(cast({{ date_expr }} as date) + {{ days }} as date)
{%- endmacro %}

{% macro default__cl_add_days(date_expr, days) -%}
    date_add(cast({{ date_expr }} as date), {{ days }})
{%- endmacro %}


{# The first day of `date_expr`'s `part` (month, quarter, year, week), as a date (Spark's date_trunc is a
   timestamp, DuckDB's on a date a date). #}
{% macro cl_trunc_date(part, date_expr) -%}
    cast(date_trunc('{{ part }}', {{ date_expr }}) as date)
{%- endmacro %}


{# One row per whole number 0 .. count - 1 of each input row, as a select-list item named `name` (DuckDB's
   `unnest(range(n))`; Spark's `explode(sequence(…))`, kept empty for count <= 0 as range is). #}
{% macro cl_unnest_range(count, name) -%}
    {{ return(adapter.dispatch('cl_unnest_range', 'closedloop')(count, name)) }}
{%- endmacro %}

{% macro duckdb__cl_unnest_range(count, name) -%}
    unnest(range({{ count }})) as {{ name }}
{%- endmacro %}

{% macro default__cl_unnest_range(count, name) -%}
    explode(filter(sequence(cast(0 as bigint), cast(greatest(({{ count }}) - 1, 0) as bigint)), i -> i < ({{ count }})))
        as {{ name }}
{%- endmacro %}


{# One row per day from `start_date` to `end_date` inclusive, as a select-list item named `name` (a date). #}
{% macro cl_unnest_days(start_date, end_date, name) -%}
    {{ return(adapter.dispatch('cl_unnest_days', 'closedloop')(start_date, end_date, name)) }}
{%- endmacro %}

{% macro duckdb__cl_unnest_days(start_date, end_date, name) -%}
    cast(unnest(generate_series(cast({{ start_date }} as timestamp), cast({{ end_date }} as timestamp),
        interval 1 day)) as date) as {{ name }}
{%- endmacro %}

{% macro default__cl_unnest_days(start_date, end_date, name) -%}
    explode(case when cast({{ start_date }} as date) <= cast({{ end_date }} as date)
        then sequence(cast({{ start_date }} as date), cast({{ end_date }} as date), interval 1 day) end) as {{ name }}
{%- endmacro %}


{# One row per month start from `start_month` to `end_month` inclusive (both first days of a month), as `name`. #}
{% macro cl_unnest_months(start_month, end_month, name) -%}
    {{ return(adapter.dispatch('cl_unnest_months', 'closedloop')(start_month, end_month, name)) }}
{%- endmacro %}

{% macro duckdb__cl_unnest_months(start_month, end_month, name) -%}
    cast(unnest(generate_series(cast({{ start_month }} as timestamp), cast({{ end_month }} as timestamp),
        interval 1 month)) as date) as {{ name }}
{%- endmacro %}

{% macro default__cl_unnest_months(start_month, end_month, name) -%}
    explode(case when cast({{ start_month }} as date) <= cast({{ end_month }} as date)
        then sequence(cast({{ start_month }} as date), cast({{ end_month }} as date), interval 1 month) end)
        as {{ name }}
{%- endmacro %}


{# Whole seconds from timestamp `start_ts` to `end_ts` (DuckDB's date_diff('second', …) counts second boundaries,
   as Spark's timestampdiff does). #}
{% macro cl_seconds_between(start_ts, end_ts) -%}
    {{ return(adapter.dispatch('cl_seconds_between', 'closedloop')(start_ts, end_ts)) }}
{%- endmacro %}

{% macro duckdb__cl_seconds_between(start_ts, end_ts) -%}
    date_diff('second', {{ start_ts }}, {{ end_ts }})
{%- endmacro %}

{% macro default__cl_seconds_between(start_ts, end_ts) -%}
    timestampdiff(SECOND, {{ start_ts }}, {{ end_ts }})
{%- endmacro %}


{# Days from date `start_date` to date `end_date`. #}
{% macro cl_days_between(start_date, end_date) -%}
    {{ return(adapter.dispatch('cl_days_between', 'closedloop')(start_date, end_date)) }}
{%- endmacro %}

{% macro duckdb__cl_days_between(start_date, end_date) -%}
    date_diff('day', {{ start_date }}, {{ end_date }})
{%- endmacro %}

{% macro default__cl_days_between(start_date, end_date) -%}
    datediff(cast({{ end_date }} as date), cast({{ start_date }} as date))
{%- endmacro %}


{# Seconds since 1970-01-01 00:00 of a timestamp without time zone, fractional seconds kept (DuckDB's epoch). #}
{% macro cl_epoch_seconds(ts) -%}
    {{ return(adapter.dispatch('cl_epoch_seconds', 'closedloop')(ts)) }}
{%- endmacro %}

{% macro duckdb__cl_epoch_seconds(ts) -%}
    epoch({{ ts }})
{%- endmacro %}

{% macro default__cl_epoch_seconds(ts) -%}
    (unix_micros(to_timestamp_ltz(cast({{ ts }} as timestamp_ntz))) / cast(1000000 as double))
{%- endmacro %}


{# A 64-bit hash of values (record fingerprints; only compared with fingerprints from the same engine). #}
{% macro cl_hash(cols) -%}
    {{ return(adapter.dispatch('cl_hash', 'closedloop')(cols)) }}
{%- endmacro %}

{% macro duckdb__cl_hash(cols) -%}
    hash({{ cols | join(', ') }})
{%- endmacro %}

{% macro default__cl_hash(cols) -%}
    xxhash64({{ cols | join(', ') }})
{%- endmacro %}


{# An aggregate: one 64-bit hash of a group's values of `col`, whatever their order. #}
{% macro cl_hash_agg_sorted(col) -%}
    {{ return(adapter.dispatch('cl_hash_agg_sorted', 'closedloop')(col)) }}
{%- endmacro %}

{% macro duckdb__cl_hash_agg_sorted(col) -%}
    hash(list({{ col }} order by {{ col }}))
{%- endmacro %}

{% macro default__cl_hash_agg_sorted(col) -%}
    xxhash64(array_sort(collect_list({{ col }})))
{%- endmacro %}


{# The value of `value` on the row with the greatest `order_by` (DuckDB arg_max, Spark max_by). #}
{% macro cl_arg_max(value, order_by) -%}
    {{ return(adapter.dispatch('cl_arg_max', 'closedloop')(value, order_by)) }}
{%- endmacro %}

{% macro duckdb__cl_arg_max(value, order_by) -%}
    arg_max({{ value }}, {{ order_by }})
{%- endmacro %}

{% macro default__cl_arg_max(value, order_by) -%}
    max_by({{ value }}, {{ order_by }})
{%- endmacro %}


{# Date `date_expr` as text in a strftime `format` (only %Y %m %d %A %b are translated for Spark). #}
{% macro cl_format_date(date_expr, format) -%}
    {{ return(adapter.dispatch('cl_format_date', 'closedloop')(date_expr, format)) }}
{%- endmacro %}

{% macro duckdb__cl_format_date(date_expr, format) -%}
    strftime({{ date_expr }}, '{{ format }}')
{%- endmacro %}

{% macro default__cl_format_date(date_expr, format) -%}
    {%- set codes = {'%Y': 'yyyy', '%m': 'MM', '%d': 'dd', '%A': 'EEEE', '%b': 'MMM'} -%}
    {%- set out = namespace(text='') -%}
    {%- for piece in format.split('%') -%}
        {%- if loop.first -%}
            {%- set out.text = out.text ~ ("'" ~ piece ~ "'" if piece else '') -%}
        {%- else -%}
            {%- set code = '%' ~ piece[:1] -%}
            {%- if code not in codes -%}
                {{ exceptions.raise_compiler_error('cl_format_date: ' ~ code ~ ' has no Spark pattern here') }}
            {%- endif -%}
            {%- set rest = piece[1:] -%}
            {%- set out.text = out.text ~ codes[code] ~ ("'" ~ rest ~ "'" if rest else '') -%}
        {%- endif -%}
    {%- endfor -%}
    date_format({{ date_expr }}, '{{ out.text | replace("'", "\\'") }}')
{%- endmacro %}


{# ISO 8601 year and week number of a date (the year a Monday-to-Sunday week belongs to, weeks 1..53). #}
{% macro cl_iso_year(date_expr) -%}
    {{ return(adapter.dispatch('cl_iso_year', 'closedloop')(date_expr)) }}
{%- endmacro %}

{% macro duckdb__cl_iso_year(date_expr) -%}
    isoyear({{ date_expr }})
{%- endmacro %}

{% macro default__cl_iso_year(date_expr) -%}
    extract(YEAROFWEEK from {{ date_expr }})
{%- endmacro %}

{% macro cl_iso_week(date_expr) -%}
    {{ return(adapter.dispatch('cl_iso_week', 'closedloop')(date_expr)) }}
{%- endmacro %}

{% macro duckdb__cl_iso_week(date_expr) -%}
    week({{ date_expr }})
{%- endmacro %}

{% macro default__cl_iso_week(date_expr) -%}
    weekofyear({{ date_expr }})
{%- endmacro %}


{# Integer division rounding toward minus infinity (DuckDB `//`, Spark `div` rounds toward zero: the same for the
   non-negative operands it is used on). #}
{% macro cl_int_div(numerator, denominator) -%}
    {{ return(adapter.dispatch('cl_int_div', 'closedloop')(numerator, denominator)) }}
{%- endmacro %}

{% macro duckdb__cl_int_div(numerator, denominator) -%}
    ({{ numerator }}) // ({{ denominator }})
{%- endmacro %}

{% macro default__cl_int_div(numerator, denominator) -%}
    cast(floor(({{ numerator }}) / ({{ denominator }})) as integer)
{%- endmacro %}


{# Text from a template with `{}` placeholders and the expressions for them (DuckDB's format('{}年', y)), written
   as a concatenation both engines read. #}
{% macro cl_format(template, args) -%}
    {%- set pieces = template.split('{}') -%}
    {%- if pieces | length != args | length + 1 -%}
        {{ exceptions.raise_compiler_error('cl_format: ' ~ template ~ ' needs ' ~ (pieces | length - 1) ~ ' values') }}
    {%- endif -%}
    {%- set out = [] -%}
    {%- for piece in pieces -%}
        {%- if piece -%}{%- do out.append(cl_string_literal(piece)) -%}{%- endif -%}
        {%- if not loop.last -%}{%- do out.append('cast(' ~ args[loop.index0] ~ ' as string)') -%}{%- endif -%}
    {%- endfor -%}
    ({{ out | join(' || ') }})
{%- endmacro %}


{# Lists (DuckDB) / arrays (Spark): a one-element list, appending, membership. #}
{% macro cl_list_of(value) -%}
    {{ return(adapter.dispatch('cl_list_of', 'closedloop')(value)) }}
{%- endmacro %}

{% macro duckdb__cl_list_of(value) -%}
    [{{ value }}]
{%- endmacro %}

{% macro default__cl_list_of(value) -%}
    array({{ value }})
{%- endmacro %}

{% macro cl_list_append(list_expr, value) -%}
    {{ return(adapter.dispatch('cl_list_append', 'closedloop')(list_expr, value)) }}
{%- endmacro %}

{% macro duckdb__cl_list_append(list_expr, value) -%}
    list_append({{ list_expr }}, {{ value }})
{%- endmacro %}

{% macro default__cl_list_append(list_expr, value) -%}
    array_append({{ list_expr }}, {{ value }})
{%- endmacro %}

{% macro cl_list_contains(list_expr, value) -%}
    {{ return(adapter.dispatch('cl_list_contains', 'closedloop')(list_expr, value)) }}
{%- endmacro %}

{% macro duckdb__cl_list_contains(list_expr, value) -%}
    list_contains({{ list_expr }}, {{ value }})
{%- endmacro %}

{% macro default__cl_list_contains(list_expr, value) -%}
    array_contains({{ list_expr }}, {{ value }})
{%- endmacro %}


{# An aggregate: the group's values of `value` joined by `separator` (a SQL string) in the order of `order_by` (one
   column). dbt-spark's listagg ignores the order; collect_list has none of its own, so Spark sorts (order, value)
   pairs first. #}
{% macro cl_listagg(value, separator, order_by) -%}
    {{ return(adapter.dispatch('cl_listagg', 'closedloop')(value, separator, order_by)) }}
{%- endmacro %}

{% macro duckdb__cl_listagg(value, separator, order_by) -%}
    {{ dbt.listagg(value, separator, 'order by ' ~ order_by) }}
{%- endmacro %}

{% macro default__cl_listagg(value, separator, order_by) -%}
    array_join(transform(array_sort(collect_list(named_struct('o', {{ order_by }}, 'v', {{ value }}))), x -> x.v),
        {{ separator }})
{%- endmacro %}


{# Complete months from date `start_date` to a later date `end_date` (DuckDB's date_sub('month', …): a month is
   complete on the same day of a later month, or on that month's last day when it is shorter). #}
{% macro cl_complete_months(start_date, end_date) -%}
    {{ return(adapter.dispatch('cl_complete_months', 'closedloop')(start_date, end_date)) }}
{%- endmacro %}

{% macro duckdb__cl_complete_months(start_date, end_date) -%}
    date_sub('month', {{ start_date }}, {{ end_date }})
{%- endmacro %}

{% macro default__cl_complete_months(start_date, end_date) -%}
    ((year({{ end_date }}) - year({{ start_date }})) * 12 + month({{ end_date }}) - month({{ start_date }})
     - case when day({{ end_date }}) < day({{ start_date }}) and {{ end_date }} <> last_day({{ end_date }})
            then 1 else 0 end)
{%- endmacro %}


{# A window's first or last non-null value of `expr` (written `first_value(x ignore nulls)` in DuckDB, with a flag
   in Spark). The OVER clause follows the macro. #}
{% macro cl_first_value_ignore_nulls(expr) -%}
    {{ return(adapter.dispatch('cl_first_value_ignore_nulls', 'closedloop')(expr)) }}
{%- endmacro %}

{% macro duckdb__cl_first_value_ignore_nulls(expr) -%}
    first_value({{ expr }} ignore nulls)
{%- endmacro %}

{% macro default__cl_first_value_ignore_nulls(expr) -%}
    first_value({{ expr }}, true)
{%- endmacro %}


{# A window's product of `expr` (nulls skipped), the window given by name: `cl_product_over('rate', 'w')`. DuckDB
   has a product aggregate; Spark multiplies the window's list in its order. #}
{% macro cl_product_over(expr, window) -%}
    {{ return(adapter.dispatch('cl_product_over', 'closedloop')(expr, window)) }}
{%- endmacro %}

{% macro duckdb__cl_product_over(expr, window) -%}
    product({{ expr }}) over {{ window }}
{%- endmacro %}

{% macro default__cl_product_over(expr, window) -%}
    aggregate(collect_list(cast({{ expr }} as double)) over {{ window }}, cast(1 as double), (acc, v) -> acc * v)
{%- endmacro %}


{# A number literal read as a double. DuckDB reads `1.0` as a decimal but divides and averages decimals in double
   precision; Spark keeps decimals decimal, so `avg(case … then 1.0 else 0.0 end)` is rounded to 5 places there and
   `x / 10.0` stays a decimal. DuckDB keeps the literal as written (its marts unchanged). #}
{% macro cl_double_literal(text) -%}
    {{ return(adapter.dispatch('cl_double_literal', 'closedloop')(text)) }}
{%- endmacro %}

{% macro duckdb__cl_double_literal(text) -%}
    {{ text }}
{%- endmacro %}

{% macro default__cl_double_literal(text) -%}
    cast({{ text }} as double)
{%- endmacro %}


{# A date or timestamp before every other (`type`: date or timestamp). DuckDB has -infinity; Spark casts it to
   null, so it gets the first day of year 1. #}
{% macro cl_minus_infinity(type) -%}
    {{ return(adapter.dispatch('cl_minus_infinity', 'closedloop')(type)) }}
{%- endmacro %}

{% macro duckdb__cl_minus_infinity(type) -%}
    cast('-infinity' as {{ type }})
{%- endmacro %}

{% macro default__cl_minus_infinity(type) -%}
    cast('0001-01-01' as {{ type }})
{%- endmacro %}
