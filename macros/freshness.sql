{# Source freshness (`dbt source freshness`, run by `closedloop build` after the models pass): the latest event
   time of one landed table, as the `loaded_at_query` of its source in models/staging/_sources.yml.

   dbt-duckdb 1.11 compares the value with `now()`, a timestamptz, and dbt reads a timestamp without a zone as
   UTC. Landed values are text in business time (var `timezone`, docs/input-contract.md), so the value is parsed the way staging
   parses it (cl_timestamp / cl_date) and then placed in the business zone: a naive value would make every age
   8 hours too young in Asia/Shanghai. A date column counts from the start of its business day.

   An absent table lands as an empty file and has no latest row: it reports `now()` (age 0, pass) instead of
   dbt's "infinitely old" error, and `closedloop build` reports it as absent from the load report. #}
{% macro cl_freshness_query(column, kind='timestamp') -%}
    {%- if kind == 'date' -%}
        {%- set local = 'cast(' ~ cl_date(column) ~ ' as timestamp)' -%}
    {%- else -%}
        {%- set local = cl_timestamp(column) -%}
    {%- endif -%}
    select case when count(*) = 0 then now() else max(timezone('{{ var("timezone") | replace("'", "''") }}', {{ local }})) end
    from {{ this }}
{%- endmacro %}
