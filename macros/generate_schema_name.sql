{# Layer schemas are named plainly (staging, intermediate, marts) rather than prefixed with the target
   schema, so analysts and dashboards query `marts.fct_leads` whatever the profile's default schema is. #}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
