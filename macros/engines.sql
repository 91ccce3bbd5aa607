{# Reading the landed Parquet on each engine (docs/scaling-out.md). DuckDB reads every source in place through its
   `meta.external_location` (models/staging/_sources.yml, dbt-duckdb). Spark has no such hook: an on-run-start hook
   (`cl_register_sources`, dbt_project.yml) creates each source's schema and an external Parquet table over the
   landed file, so `source('crm', 'leads')` is `crm.leads` there. The folder Spark reads is var
   `spark_parquet_location` (a path, `s3://…`, `dbfs:/…`, a Unity Catalog volume …), by default the landing
   `closedloop build` made (CLOSEDLOOP_LANDING). The tables are dropped and created again on every run, because each
   build lands into a new folder. #}
{% macro cl_register_sources() -%}
    {{ return(adapter.dispatch('cl_register_sources', 'closedloop')()) }}
{%- endmacro %}

{% macro default__cl_register_sources() -%}
{%- endmacro %}

{% macro spark__cl_register_sources() -%}
    {%- if execute -%}
        {%- set root = (var('spark_parquet_location', '') or env_var('CLOSEDLOOP_LANDING', 'data/landing')) | replace('\\', '/') -%}
        {%- set root = root.rstrip('/') -%}
        {%- set schemas = [] -%}
        {#- The build's own reports (`_load_report.parquet`, `_rejected.parquet`: source closedloop_landing) are not
            registered: Spark skips files whose names start with `_` or `.`, and the ops models stay on DuckDB. -#}
        {%- for node in graph.sources.values() if node.package_name == 'closedloop'
                and node.source_name != 'closedloop_landing' -%}
            {%- set path = root ~ '/' ~ node.source_name ~ '/' ~ node.name ~ '.parquet' -%}
            {%- if node.schema not in schemas -%}
                {%- do run_query('create schema if not exists ' ~ node.schema) -%}
                {%- do schemas.append(node.schema) -%}
            {%- endif -%}
            {%- do run_query('drop table if exists ' ~ node.schema ~ '.' ~ node.identifier) -%}
            {%- do run_query('create table ' ~ node.schema ~ '.' ~ node.identifier ~ ' using parquet location '
                ~ cl_string_literal(path)) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}
