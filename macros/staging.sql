{# Typing and normalisation helpers. Validation (closedloop/validate.py) renders the typing macros over the raw
   text to check every value, and landing writes each typed contract column through the same macro, so the
   landed Parquet is already typed; staging models read those columns with `cl_typed` and only trim, lower-case
   and rename. Casting through varchar lets the typing macros read text and typed input alike. #}

{# A contract column landing already typed (its declared data_type, by the macro below for that type). #}
{% macro cl_typed(col) -%}
    {{ col }}
{%- endmacro %}

{% macro cl_text(col) -%}
    nullif(trim(cast({{ col }} as varchar)), '')
{%- endmacro %}

{% macro cl_enum(col) -%}
    lower({{ cl_text(col) }})
{%- endmacro %}

{# Timestamps become business-local `timestamp`s. An offset-less value already is business time (docs/input-contract.md);
   one with an offset (Z, +08:00, -0500) is converted. Written without the session's TimeZone, because staging
   views are evaluated in whatever session reads them. #}
{% macro cl_timestamp(col) -%}
    case
        when regexp_matches({{ cl_text(col) }}, '[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?\s*(Z|[+-][0-9]{2}(:?[0-9]{2})?)$')
            then timezone('{{ var("timezone") }}', cast({{ cl_text(col) }} as timestamptz))
        else cast({{ cl_text(col) }} as timestamp)
    end
{%- endmacro %}

{% macro cl_date(col) -%}
    cast(cast({{ cl_text(col) }} as timestamp) as date)
{%- endmacro %}

{% macro cl_amount(col) -%}
    cast({{ cl_text(col) }} as decimal(18, 2))
{%- endmacro %}

{% macro cl_integer(col) -%}
    cast(cast({{ cl_text(col) }} as double) as integer)
{%- endmacro %}

{# Whole digits cast straight to bigint: through double, 987654321098765432 would become 987654321098765440. #}
{% macro cl_bigint(col) -%}
    case
        when regexp_matches({{ cl_text(col) }}, '^[+-]?[0-9]+$') then cast({{ cl_text(col) }} as bigint)
        else cast(cast({{ cl_text(col) }} as double) as bigint)
    end
{%- endmacro %}

{% macro cl_boolean(col) -%}
    case
        when lower({{ cl_text(col) }}) in ('true', 't', '1', 'yes', 'y', '是') then true
        when lower({{ cl_text(col) }}) in ('false', 'f', '0', 'no', 'n', '否') then false
    end
{%- endmacro %}

{% macro cl_email(col) -%}
    lower({{ cl_text(col) }})
{%- endmacro %}

{# Digits only; a Chinese mobile written +86 / 0086 / 86 before its 11 digits keeps the 11 digits. #}
{% macro cl_phone(col) -%}
    nullif(regexp_replace(
        regexp_replace(cast({{ col }} as varchar), '[^0-9]', '', 'g'),
        '^(0086|86)(1[0-9]{10})$', '\2'), '')
{%- endmacro %}

{# A deterministic key for log tables that have none, from the columns that identify a row. #}
{% macro surrogate_key(cols) -%}
    md5(concat_ws('|', {% for c in cols %}coalesce(cast({{ c }} as varchar), '∅'){% if not loop.last %}, {% endif %}{% endfor %}))
{%- endmacro %}
