{# Typing and normalisation helpers. Validation (closedloop/validate.py) renders the typing macros over the raw
   text to check every value, and landing writes each typed contract column through the same macro, so the
   landed Parquet is already typed; staging models read those columns with `cl_typed` and only trim, lower-case
   and rename. Casting through varchar lets the typing macros read text and typed input alike. #}

{# A contract column landing already typed (its declared data_type, by the macro below for that type). #}
{% macro cl_typed(col) -%}
    {{ col }}
{%- endmacro %}

{% macro cl_text(col) -%}
    nullif(trim(cast({{ col }} as string)), '')
{%- endmacro %}

{% macro cl_enum(col) -%}
    lower({{ cl_text(col) }})
{%- endmacro %}

{# Timestamps become business-local `timestamp`s (var `timezone`). A value without a zone already is business time
   (the input contract); one with a zone is converted, when the zone can be resolved without guessing:
     - `Z`, `UTC`, `GMT`, `UT`, and UTC offsets however written after a time (`+08:00`, `+0800`, `+08`, `-5`,
       `UTC+8`, `GMT+08:00`, `GMT -05:00`: the sign as people write it, east of Greenwich is +);
     - IANA names (`Asia/Shanghai`, `Europe/Berlin`, `America/New_York`, daylight saving time included), resolved
       by DuckDB's ICU time-zone data; a name it does not know is `unknown_timezone`;
     - the abbreviations with one meaning in `cl_timezone_resolved` below (JST, CET, EDT …);
     - any abbreviation the project names in var `timezone_abbreviations` (e.g. `{CST: "+08:00"}` to read CST as
       China Standard Time); that var wins over the built-in list.
   Abbreviations with several meanings (CST: China, US Central or Cuba; IST; BST; PST …) and `Etc/GMT+8` (whose
   sign is the reverse of what people mean) are never guessed: `ambiguous_timezone`. Any other zone text is
   `unknown_timezone`. A value whose business date lies outside var `min_plausible_date`..`max_plausible_date` is
   `implausible_date` (a typo'd year; no date spine may stretch over millennia).
   Each typing macro (cl_timestamp, cl_date, cl_amount, cl_integer, cl_bigint) raises a conversion error for a
   value it will not type, so validation's `try()` makes it null; the matching `*_issue` macro names the rule
   (`rule: detail`) for the failures that are not plain type errors. Written without the session's TimeZone,
   because the expressions run in whatever session evaluates them. #}

{# A value with no zone: date, optional time; the common case, typed without looking for a zone. #}
{% macro cl_local_timestamp_pattern() -%}
    '[+-]?[0-9]{1,6}[-/][0-9]{1,2}[-/][0-9]{1,2}([T ][0-9]{1,2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?)?'
{%- endmacro %}

{# A value split into the text before its zone and the zone: letters after a digit (UTC, GMT+8, CST, Z,
   America/New_York), or a signed offset after a time (`…:00+08:00`, `…:00 -0500`). A struct: h1/z1 for a named
   zone, h2/z2 for an offset; every field '' when the value ends in no zone. #}
{% macro cl_timezone_parts(t) -%}
    regexp_extract({{ t }},
        '^(.*[0-9])\s*([A-Za-z][A-Za-z0-9_/+\-]*(?:\s*[+-][0-9]{1,2}(?::?[0-9]{2})?)?)$|^(.*:[0-9]{2}(?:[.,][0-9]+)?)\s*([+-][0-9]{1,2}(?::?[0-9]{2})?)$',
        ['h1', 'z1', 'h2', 'z2'])
{%- endmacro %}

{# What ICU is given for the zone of parts `p` (inside a lambda): `UTC`, a `GMT+08:00`-style offset, an IANA name,
   or, for a zone this project will not guess, text starting with `?` that no cast accepts: `?ambiguous: <its
   meanings>` or `?unknown`. The var's abbreviations come first and win over the built-in ones. #}
{% macro cl_timezone_resolved(p) -%}
    {%- set zone = 'replace(' ~ p ~ '.z1 || ' ~ p ~ '.z2, \' \', \'\')' -%}
    {%- set unambiguous = {
        'JST': '+09:00', 'KST': '+09:00', 'HKT': '+08:00', 'SGT': '+08:00', 'AWST': '+08:00', 'WIB': '+07:00',
        'ICT': '+07:00', 'PKT': '+05:00', 'NPT': '+05:45', 'MSK': '+03:00', 'EAT': '+03:00', 'EET': '+02:00',
        'EEST': '+03:00', 'CAT': '+02:00', 'CET': '+01:00', 'CEST': '+02:00', 'WAT': '+01:00', 'WET': '+00:00',
        'WEST': '+01:00', 'AEST': '+10:00', 'AEDT': '+11:00', 'ACST': '+09:30', 'ACDT': '+10:30', 'NZST': '+12:00',
        'NZDT': '+13:00', 'EST': '-05:00', 'EDT': '-04:00', 'MDT': '-06:00', 'PDT': '-07:00', 'AKST': '-09:00',
        'AKDT': '-08:00', 'HST': '-10:00'} -%}
    {%- set ambiguous = {
        'CST': 'China Standard Time (UTC+08:00), US Central Standard Time (UTC-06:00) or Cuba Standard Time (UTC-05:00)',
        'CDT': 'US Central Daylight Time (UTC-05:00) or Cuba Daylight Time (UTC-04:00)',
        'IST': 'India Standard Time (UTC+05:30), Irish Standard Time (UTC+01:00) or Israel Standard Time (UTC+02:00)',
        'BST': 'British Summer Time (UTC+01:00) or Bangladesh Standard Time (UTC+06:00)',
        'PST': 'US Pacific Standard Time (UTC-08:00) or Philippine Standard Time (UTC+08:00)',
        'MST': 'US Mountain Standard Time (UTC-07:00) or Malaysia Standard Time (UTC+08:00)',
        'AST': 'Atlantic Standard Time (UTC-04:00) or Arabia Standard Time (UTC+03:00)',
        'ADT': 'Atlantic Daylight Time (UTC-03:00) or Arabia Daylight Time (UTC+04:00)',
        'SST': 'Samoa Standard Time (UTC-11:00) or Singapore Standard Time (UTC+08:00)',
        'GST': 'Gulf Standard Time (UTC+04:00) or South Georgia Time (UTC-02:00)',
        'ECT': 'Ecuador Time (UTC-05:00) or Eastern Caribbean Time (UTC-04:00)',
        'AMT': 'Amazon Time (UTC-04:00) or Armenia Time (UTC+04:00)'} -%}
    {%- set chosen = var('timezone_abbreviations', {}) or {} -%}
    {%- set chosen_keys = chosen.keys() | map('upper') | list -%}
    coalesce(MAP {
        {%- for abbr, zone_name in chosen.items() %}
        '{{ abbr | upper | replace("'", "''") }}': '
            {%- if zone_name is string and zone_name[:1] in ('+', '-') %}GMT{% endif %}{{ zone_name | replace("'", "''") }}',
        {%- endfor %}
        {%- for abbr, offset in unambiguous.items() if abbr not in chosen_keys %}
        '{{ abbr }}': 'GMT{{ offset }}',
        {%- endfor %}
        {%- for abbr, meaning in ambiguous.items() if abbr not in chosen_keys %}
        '{{ abbr }}': '?ambiguous: {{ abbr }} may be {{ meaning }}',
        {%- endfor %}
        'Z': 'UTC', 'UTC': 'UTC', 'GMT': 'UTC', 'UT': 'UTC', 'ZULU': 'UTC'}[upper({{ zone }})],
        case
            when regexp_full_match(upper({{ zone }}), '(UTC|GMT|UT)?[+-][0-9]{1,2}(:?[0-9]{2})?')
                then 'GMT' || regexp_replace(upper({{ zone }}), '^[A-Z]*', '')
            when regexp_full_match(upper({{ zone }}), 'ETC/GMT[+-][0-9]+')
                then '?ambiguous: in the tz database ' || {{ zone }} || ' means UTC'
                     || translate(substr({{ zone }}, 8, 1), '+-', '-+') || substr({{ zone }}, 9)
                     || ' (the sign is reversed); write the offset (+08:00) or a city name (Asia/Shanghai) instead'
            when contains({{ zone }}, '/') then {{ zone }}
            else '?unknown'
        end)
{%- endmacro %}

{# Parts `p` (inside a lambda) as a business-local timestamp; a conversion error when the zone is not resolved. #}
{% macro cl_timezone_converted(p) -%}
    timezone('{{ var("timezone") | replace("'", "''") }}', cast(
        strftime(cast({{ p }}.h1 || {{ p }}.h2 as timestamp), '%Y-%m-%d %H:%M:%S.%f') || ' '
        || {{ cl_timezone_resolved(p) }} as timestamptz))
{%- endmacro %}

{% macro cl_plausible_dates() -%}
    date '{{ var("min_plausible_date") }}' and date '{{ var("max_plausible_date") }}'
{%- endmacro %}

{# Typed and converted, not yet checked against the plausible dates (text `t`). #}
{% macro cl_timestamp_unchecked(t) -%}
    case
        when regexp_full_match({{ t }}, {{ cl_local_timestamp_pattern() }}) then cast({{ t }} as timestamp)
        else list_transform([{{ cl_timezone_parts(t) }}], lambda p:
            case when p.z1 || p.z2 <> '' then {{ cl_timezone_converted('p') }} else {{ cl_zoneless(t) }} end)[1]
    end
{%- endmacro %}

{# A value in which no zone was found, cast as business time, unless it still holds a sign after its time or a
   character no date or time has (`…+08:00:00`, `… 北京时间`): DuckDB's timestamp cast would drop such a zone. #}
{% macro cl_zoneless(t) -%}
    case
        when regexp_matches({{ t }}, '[^0-9T :.,/-]|:[0-9]{2}[^+-]*[+-]') then cast('unreadable zone ' || {{ t }} as timestamp)
        else cast({{ t }} as timestamp)
    end
{%- endmacro %}

{% macro cl_timestamp(col) -%}
    {%- set t = cl_text(col) -%}
    list_transform([{{ cl_timestamp_unchecked(t) }}], lambda v:
        case
            when cast(v as date) between {{ cl_plausible_dates() }} then v
            else cast('implausible date ' || {{ t }} as timestamp)
        end)[1]
{%- endmacro %}

{# Why a timestamp or date value is not typed, when the reason is not a plain format error: `rule: detail`
   (ambiguous_timezone, unknown_timezone, implausible_date), else null. #}
{% macro cl_timestamp_issue(col) -%}
    {%- set t = cl_text(col) -%}
    {%- set implausible -%}
        'implausible_date: outside {{ var("min_plausible_date") }} to {{ var("max_plausible_date") }} (vars min_plausible_date, max_plausible_date)'
    {%- endset -%}
    case
        when {{ t }} is null then null
        when regexp_full_match({{ t }}, {{ cl_local_timestamp_pattern() }})
            then case when not (cast(try(cast({{ t }} as timestamp)) as date) between {{ cl_plausible_dates() }})
                      then {{ implausible }} end
        else list_transform([{{ cl_timezone_parts(t) }}], lambda p: list_transform([{{ cl_timezone_resolved('p') }}], lambda r:
            case
                when starts_with(r, '?ambiguous: ') then 'ambiguous_timezone: ' || substr(r, 13)
                when p.z1 || p.z2 <> '' and try(cast('2000-01-01 00:00:00 ' || r as timestamptz)) is null
                    then 'unknown_timezone: `' || replace(p.z1 || p.z2, ' ', '') || '` is not a UTC offset, UTC/GMT/Z, '
                         || 'a time-zone name such as Asia/Shanghai, or an abbreviation with one meaning'
                when not (cast(try({{ cl_timestamp_unchecked(t) }}) as date) between {{ cl_plausible_dates() }})
                    then {{ implausible }}
            end)[1])[1]
    end
{%- endmacro %}

{# A date: the business date of the timestamp the value is (a zone converts it, so `2026-03-01T23:30:00Z` is
   2026-03-02 in Shanghai); its checks are cl_timestamp's. #}
{% macro cl_date(col) -%}
    cast({{ cl_timestamp(col) }} as date)
{%- endmacro %}

{% macro cl_date_issue(col) -%}
    {{ cl_timestamp_issue(col) }}
{%- endmacro %}

{# Amounts: a plain decimal number, an optional sign, digits, an optional point and digits: `1200`, `-3`, `80000.5`,
   `.5`. Not `1e5`, `1_000`, `1,200`, `¥12`, `NaN`, which are text to a person reading the export. More than
   2 decimals (`12.345`) would be rounded by decimal(18,2): set aside (`precision`) instead, never rounded;
   trailing zeros (`12.340`) lose nothing and load. #}
{% macro cl_number_pattern() -%}
    '[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)'
{%- endmacro %}

{% macro cl_amount(col) -%}
    {%- set t = cl_text(col) -%}
    case
        when regexp_full_match({{ t }}, {{ cl_number_pattern() }})
             and not regexp_matches({{ t }}, '[.][0-9]{2}[0-9]*[1-9]')
            then cast({{ t }} as decimal(18, 2))
        else cast('not a plain 2-decimal number ' || {{ t }} as decimal(18, 2))
    end
{%- endmacro %}

{% macro cl_amount_issue(col) -%}
    {%- set t = cl_text(col) -%}
    case
        when regexp_full_match({{ t }}, {{ cl_number_pattern() }}) and regexp_matches({{ t }}, '[.][0-9]{2}[0-9]*[1-9]')
            then 'precision: has ' || length(regexp_extract({{ t }}, '[.]([0-9]*?)0*$', 1))
                 || ' decimals; amounts are stored to 2 and never rounded'
    end
{%- endmacro %}

{# Whole numbers: digits with an optional sign; `12.0` / `12.` (a spreadsheet's float) is 12. Not `1.5` (never
   rounded), `1e3`, `1_000`, `1,000`. Cast from the text itself, never through a double, so every digit of a
   bigint is kept. #}
{% macro cl_whole_number(col, type) -%}
    {%- set t = cl_text(col) -%}
    case
        when regexp_full_match({{ t }}, '[+-]?[0-9]+([.]0*)?')
            then cast(regexp_replace({{ t }}, '[.]0*$', '') as {{ type }})
        else cast('not a whole number ' || {{ t }} as {{ type }})
    end
{%- endmacro %}

{% macro cl_integer(col) -%}
    {{ cl_whole_number(col, 'integer') }}
{%- endmacro %}

{# Whole digits cast straight to bigint: through double, 987654321098765432 would become 987654321098765440. #}
{% macro cl_bigint(col) -%}
    {{ cl_whole_number(col, 'bigint') }}
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

{# One number, one value: full-width digits (１３８…) folded, digits only; a mobile written +86 / 0086 / 86
   before its 11 digits keeps the 11 digits, and any other number written with +86 / 0086 gets the domestic
   trunk 0 back ("+86 10 6552 8888" and "010-6552 8888" are one number). The journey's search box folds what is
   typed the same way (dashboards/pii.py normalised_phone); tests/test_identity_search.py holds the two to the same
   answers on one list of spellings. #}
{% macro cl_phone(col) -%}
    {%- set raw = "translate(trim(cast(" ~ col ~ " as string)), '０１２３４５６７８９＋', '0123456789+')" -%}
    {%- set digits = cl_regexp_replace_all(raw, "'[^0-9]'", "''") -%}
    nullif(case
        when {{ cl_regexp_matches(digits, "'^(0086|86)1[0-9]{10}$'") }} then right({{ digits }}, 11)
        when {{ raw }} like '+86%' then '0' || substr({{ digits }}, 3)
        when {{ raw }} like '0086%' then '0' || substr({{ digits }}, 5)
        else {{ digits }}
    end, '')
{%- endmacro %}

{# A deterministic key for log tables that have none, from the columns that identify a row. #}
{% macro surrogate_key(cols) -%}
    md5(concat_ws('|', {% for c in cols %}coalesce(cast({{ c }} as string), '∅'){% if not loop.last %}, {% endif %}{% endfor %}))
{%- endmacro %}
