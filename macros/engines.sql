{# Reading the landed Parquet on each engine (docs/scaling-out.md). DuckDB reads every source in place through its
   `meta.external_location` (models/staging/_sources.yml, dbt-duckdb). Spark has no such hook: the operation
   `cl_register_sources` (`dbt run-operation cl_register_sources --target spark_local`, run by `closedloop build
   --engine spark` before the models) creates each source's schema and an external Parquet table over the landed
   file, so `source('crm', 'leads')` is `crm.leads` there. Not an on-run-start hook: a hook is a node of every
   DuckDB build too. The folder Spark reads is var
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


{# Copy-back through files (docs/scaling-out.md, "Copy-back from a cluster"): after the models, Spark writes each
   built table as Parquet under `location` (`<location>/<schema>/<table>/part-….parquet`), which DuckDB then reads
   (closedloop.spark.export_tables_as_parquet). SQL only, so it runs over any connection dbt has to Spark: a session,
   a Thrift server, EMR, Databricks. Parquet keeps the types (decimals, timestamp_ntz, dates) and the executors write
   in parallel; an empty table still gets one file carrying its columns. `tables` is a list of `schema.table`. #}
{% macro cl_export_tables(tables, location) -%}
    {{ return(adapter.dispatch('cl_export_tables', 'closedloop')(tables, location)) }}
{%- endmacro %}

{% macro default__cl_export_tables(tables, location) -%}
    {{ exceptions.raise_compiler_error('cl_export_tables runs on Spark only, not on ' ~ target.type) }}
{%- endmacro %}

{% macro spark__cl_export_tables(tables, location) -%}
    {%- if execute -%}
        {%- set root = location | replace('\\', '/') -%}
        {%- set root = root.rstrip('/') -%}
        {%- for name in tables -%}
            {%- set schema, table = name.split('.') -%}
            {%- do run_query('insert overwrite directory ' ~ cl_string_literal(root ~ '/' ~ schema ~ '/' ~ table)
                ~ ' using parquet select * from ' ~ adapter.quote(schema) ~ '.' ~ adapter.quote(table)) -%}
        {%- endfor -%}
    {%- endif -%}
{%- endmacro %}


{# Incremental builds on Spark run in full at first (docs/scaling-out.md): `closedloop build --engine spark` always
   passes --full-refresh, so the models with strategy `replace_affected` (macros/incremental.sql, DuckDB) are built
   as tables. dbt-spark checks the strategy before it looks at --full-refresh; this stands in for its check (a root
   project macro wins over the adapter's), lets replace_affected through on a full refresh only and refuses a real
   incremental run, which Spark would otherwise append to. #}
{% macro dbt_spark_validate_get_incremental_strategy(raw_strategy, file_format) -%}
    {%- if raw_strategy == 'replace_affected' -%}
        {%- if not should_full_refresh() -%}
            {{ exceptions.raise_compiler_error('incremental strategy replace_affected runs on DuckDB only: build '
                ~ 'with --full-refresh on ' ~ target.type ~ ' (closedloop build --engine spark does)') }}
        {%- endif -%}
        {{ return('append') }}
    {%- endif -%}
    {%- if raw_strategy not in ['append', 'merge', 'insert_overwrite', 'microbatch'] -%}
        {{ exceptions.raise_compiler_error('Invalid incremental strategy provided: ' ~ raw_strategy) }}
    {%- endif -%}
    {{ return(raw_strategy) }}
{%- endmacro %}


{# The relation `this` model had in the warehouse the build started from, or none. Only DuckDB builds start from a
   copy of the served warehouse; a Spark build is always full (dbt-spark drops a table before it creates it again,
   so a model cannot read its own previous state either). #}
{% macro cl_previous_relation() -%}
    {{ return(adapter.dispatch('cl_previous_relation', 'closedloop')()) }}
{%- endmacro %}

{% macro duckdb__cl_previous_relation() -%}
    {{ return(adapter.get_relation(database=this.database, schema=this.schema, identifier=this.identifier)
              if execute else none) }}
{%- endmacro %}

{% macro default__cl_previous_relation() -%}
    {{ return(none) }}
{%- endmacro %}


{# The type of a cl_hash value (DuckDB's hash is an unsigned 64-bit integer, Spark's xxhash64 a bigint). #}
{% macro cl_hash_type() -%}
    {{ return(adapter.dispatch('cl_hash_type', 'closedloop')()) }}
{%- endmacro %}

{% macro duckdb__cl_hash_type() -%}
    ubigint
{%- endmacro %}

{% macro default__cl_hash_type() -%}
    bigint
{%- endmacro %}


{# Seeds on Spark. dbt-spark's session cursor binds every value as `'{value}'` (dbt-spark session.py, _fix_binding):
   an empty CSV cell lands as the text 'None' (stages.exit_criteria) and a quote would break the statement. This
   writes each value as a literal instead: null, a number, true/false, or an escaped string. #}
{% macro spark__load_csv_rows(model, agate_table) %}
    {%- set batch_size = get_batch_size() -%}
    {%- set column_override = model['config'].get('column_types', {}) -%}
    {%- set statements = [] -%}
    {%- for chunk in agate_table.rows | batch(batch_size) -%}
        {%- set sql -%}
            insert into {{ this.render() }} values
            {% for row in chunk -%}
                ({%- for col_name in agate_table.column_names -%}
                    {%- set type = column_override.get(col_name, adapter.convert_type(agate_table, loop.index0)) -%}
                    {%- set value = row[loop.index0] -%}
                    cast({% if value is none %}null{% elif value is sameas true %}true{% elif value is sameas false %}false{% elif value is number %}{{ value }}{% else %}{{ cl_string_literal(value) }}{% endif %} as {{ type }})
                    {%- if not loop.last %}, {% endif -%}
                {%- endfor -%})
                {%- if not loop.last %},{% endif %}
            {% endfor %}
        {%- endset -%}
        {%- do adapter.add_query(sql, abridge_sql_log=True) -%}
        {%- if loop.index0 == 0 -%}
            {%- do statements.append(sql) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements[0]) }}
{% endmacro %}


{# dbt's cross-database dateadd/datediff as Spark 4 runs them for this project. dbt-spark's own go through
   to_unix_timestamp/to_timestamp and come out null with spark.sql.timestampType=TIMESTAMP_NTZ (profiles.yml:
   timestamps are business time without a zone, as in DuckDB). As dbt-duckdb's, dateadd returns a timestamp, and
   datediff counts the day boundaries crossed (dates), or whole units between timestamps for smaller parts. #}
{% macro spark__dateadd(datepart, interval, from_date_or_timestamp) -%}
    timestampadd({{ datepart | upper }}, {{ interval }}, cast({{ from_date_or_timestamp }} as timestamp))
{%- endmacro %}

{% macro spark__datediff(first_date, second_date, datepart) -%}
    {%- if datepart | lower == 'day' -%}
        datediff(cast({{ second_date }} as date), cast({{ first_date }} as date))
    {%- else -%}
        timestampdiff({{ datepart | upper }}, cast({{ first_date }} as timestamp), cast({{ second_date }} as timestamp))
    {%- endif -%}
{%- endmacro %}
