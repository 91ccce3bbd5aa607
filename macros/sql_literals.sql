{# A var or setting put into SQL as a string literal: a quote is doubled, so a value is only ever a value
   (closedloop/sql.py does the same for Python; models/staging/_sources.yml for the landing path). #}
{% macro cl_string_literal(value) -%}
    '{{ value | string | replace("'", "''") }}'
{%- endmacro %}
