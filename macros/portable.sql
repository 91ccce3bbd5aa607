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
