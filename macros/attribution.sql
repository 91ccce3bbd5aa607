{# Attribution (docs/metrics.md#attribution-paths): the conversion types, the models and their vars, written once.
   Lists are returned (not rendered) so models and tests loop over the same names. #}

{% macro attribution_conversion_types() -%}
    {{ return(['lead', 'opportunity', 'won']) }}
{%- endmacro %}

{# Every model, rule-based first, in the order the pages show them. #}
{% macro attribution_models() -%}
    {{ return(['first_touch', 'last_touch', 'linear', 'time_decay', 'position_based', 'w_shaped', 'markov',
               'shapley']) }}
{%- endmacro %}

{# The models that credit a conversion type: w_shaped needs a lead-creation and an opportunity-creation touch,
   which a lead conversion does not have. #}
{% macro attribution_models_for(conversion_type) -%}
    {%- if conversion_type == 'lead' -%}
        {{ return(attribution_models() | reject('equalto', 'w_shaped') | list) }}
    {%- else -%}
        {{ return(attribution_models()) }}
    {%- endif -%}
{%- endmacro %}

{# Var `attribution_lookback_days` (a mapping per conversion type): how far back before a conversion its path
   reaches, in days. A missing or non-numeric entry fails the build instead of silently using no window. #}
{% macro attribution_lookback_days(conversion_type) -%}
    {%- set lookback = var('attribution_lookback_days', {}) -%}
    {%- if lookback is not mapping or lookback.get(conversion_type) is none
          or lookback[conversion_type] is not number -%}
        {{ exceptions.raise_compiler_error("var attribution_lookback_days needs a number of days for '"
            ~ conversion_type ~ "', got " ~ lookback) }}
    {%- endif -%}
    {{ return(lookback[conversion_type]) }}
{%- endmacro %}

{% macro attribution_half_life_days() -%}
    {%- set half_life = var('attribution_half_life_days') -%}
    {%- if half_life is not number or half_life <= 0 -%}
        {{ exceptions.raise_compiler_error("var attribution_half_life_days must be a positive number of days, got "
            ~ half_life) }}
    {%- endif -%}
    {{ return(half_life) }}
{%- endmacro %}

{# Separators of the path and channel-set strings that int_attribution__channel_weights parses back; the same
   constants are closedloop.attribution.PATH_SEPARATOR and SET_SEPARATOR. #}
{% macro attribution_path_separator() -%}' > '{%- endmacro %}
{% macro attribution_set_separator() -%}' + '{%- endmacro %}

{# The state of a touch's channel in the Markov chain and the Shapley game: a touch without a channel is a state
   of its own (never merged into a real channel, never dropped). #}
{% macro attribution_channel_state(channel) -%}
    coalesce({{ channel }}, '(none)')
{%- endmacro %}

{# Days from one timestamp to a later one, with the fraction (dbt's cross-database datediff in seconds). #}
{% macro attribution_days_between(start_ts, end_ts) -%}
    ({{ dbt.datediff(start_ts, end_ts, 'second') }} / cast(86400 as double))
{%- endmacro %}
