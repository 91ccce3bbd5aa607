{# Feedback text as the lead_feedback_reasons seed is matched (docs/metrics.md#follow-up-status): full-width ASCII and the
   ideographic space folded to half-width, the traditional forms of the seed's characters simplified, spaces
   removed, lower-cased. One translate() + replace() + lower(): the same functions on DuckDB, Spark and Postgres.

   The traditional → simplified pairs are every CJK character that OpenCC's t2s maps onto a character of the seed's
   reasons and aliases (39 pairs): a character outside the seed cannot help a text match it, so a full conversion
   table is not needed. tests/test_followups.py recomputes this list from the seed with OpenCC and fails, printing
   the new strings, when a seed edit brings a character whose traditional form is missing here; a spelling the
   mapping cannot reach can always be added to the seed's `aliases`. ＇ and ＼ are left alone: their half-width
   forms need escaping in some engines' string literals. #}
{% macro cl_feedback_traditional() -%}
    {{ return('丟係單埰夠寀對復採據數暫標權決沒測無爭確競給綫線繫聯聽虛複試話說説買購輸選電預') }}
{%- endmacro %}
{% macro cl_feedback_simplified() -%}
    {{ return('丢系单采够采对复采据数暂标权决没测无争确竞给线线系联听虚复试话说说买购输选电预') }}
{%- endmacro %}

{# Full-width ASCII (U+FF01–U+FF5E but ＇ and ＼) and the ideographic space, then their half-width forms. #}
{% macro cl_fullwidth_chars() -%}
    {{ return('！＂＃＄％＆（）＊＋，－．／０１２３４５６７８９：；＜＝＞？＠ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ［］＾＿｀ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ｛｜｝～　') }}
{%- endmacro %}
{% macro cl_halfwidth_chars() -%}
    {{ return('!"#$%&()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~ ') }}
{%- endmacro %}

{% macro cl_normalise_feedback(expr) -%}
    lower(replace(translate(trim({{ expr }}),
        '{{ cl_fullwidth_chars() }}{{ cl_feedback_traditional() }}',
        '{{ cl_halfwidth_chars() }}{{ cl_feedback_simplified() }}'), ' ', ''))
{%- endmacro %}
