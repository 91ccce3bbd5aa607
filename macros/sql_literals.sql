{# A var or setting put into SQL as a string literal: a quote is doubled, so a value is only ever a value
   (closedloop/sql.py does the same for Python; models/staging/_sources.yml for the landing path). Spark reads a
   backslash as an escape and joins adjacent literals ('a''b' is 'ab'), so there both are escaped with a backslash. #}
{% macro cl_string_literal(value) -%}
    {{ return(adapter.dispatch('cl_string_literal', 'closedloop')(value)) }}
{%- endmacro %}

{% macro default__cl_string_literal(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}

{% macro spark__cl_string_literal(value) -%}
    '{{ value | string | replace("\\", "\\\\") | replace("'", "\\'") }}'
{%- endmacro %}
