{# Statistics used by the conversion marts. One definition each, mirrored in Python only by the tests'
   independent implementation. #}

{# 95% Wilson score interval of successes / trials; null when there are no trials. It stays inside
   [0, 1] and is usable at 0 and at n successes, where the normal interval collapses. The ends are exact there
   (0 and 1): the closed formula lands a rounding error away, which would print as "0.0000%" / "100.00%". #}
{% macro wilson_low(successes, trials, z=1.959963984540054) -%}
    case when coalesce({{ trials }}, 0) > 0 and ({{ successes }}) = 0 then 0.0
         when coalesce({{ trials }}, 0) > 0 then greatest(0.0,
        (({{ successes }}) / ({{ trials }})::double + power({{ z }}, 2) / (2.0 * ({{ trials }}))
         - {{ z }} * sqrt(
             (({{ successes }}) / ({{ trials }})::double) * (1 - ({{ successes }}) / ({{ trials }})::double) / ({{ trials }})
             + power({{ z }}, 2) / (4.0 * power({{ trials }}, 2))))
        / (1 + power({{ z }}, 2) / ({{ trials }})::double)) end
{%- endmacro %}

{% macro wilson_high(successes, trials, z=1.959963984540054) -%}
    case when coalesce({{ trials }}, 0) > 0 and ({{ successes }}) = ({{ trials }}) then 1.0
         when coalesce({{ trials }}, 0) > 0 then least(1.0,
        (({{ successes }}) / ({{ trials }})::double + power({{ z }}, 2) / (2.0 * ({{ trials }}))
         + {{ z }} * sqrt(
             (({{ successes }}) / ({{ trials }})::double) * (1 - ({{ successes }}) / ({{ trials }})::double) / ({{ trials }})
             + power({{ z }}, 2) / (4.0 * power({{ trials }}, 2))))
        / (1 + power({{ z }}, 2) / ({{ trials }})::double)) end
{%- endmacro %}

{# A ratio that is null, not an error, when its denominator is zero or null. #}
{% macro safe_ratio(numerator, denominator) -%}
    case when coalesce({{ denominator }}, 0) <> 0 then ({{ numerator }})::double / ({{ denominator }}) end
{%- endmacro %}

{# Pooled two-proportion z statistic of k1/n1 against k2/n2; null when it is undefined. #}
{% macro two_proportion_z(k1, n1, k2, n2) -%}
    case when coalesce({{ n1 }}, 0) > 0 and coalesce({{ n2 }}, 0) > 0
          and ({{ k1 }} + {{ k2 }}) > 0 and ({{ k1 }} + {{ k2 }}) < ({{ n1 }} + {{ n2 }}) then
        (({{ k1 }})::double / ({{ n1 }}) - ({{ k2 }})::double / ({{ n2 }}))
        / sqrt((({{ k1 }} + {{ k2 }})::double / ({{ n1 }} + {{ n2 }}))
               * (1 - ({{ k1 }} + {{ k2 }})::double / ({{ n1 }} + {{ n2 }}))
               * ({{ cl_double_literal('1.0') }} / ({{ n1 }}) + {{ cl_double_literal('1.0') }} / ({{ n2 }}))) end
{%- endmacro %}

{# docs/metrics.md#significance: a two-proportion test at 95%; "too_few" when any expected success or failure count
   under the pooled rate is below 5 (then the test says nothing, and saying "no" would mislead). #}
{% macro significance_flag(k1, n1, k2, n2) -%}
    case
        when coalesce({{ n1 }}, 0) = 0 or coalesce({{ n2 }}, 0) = 0 then 'too_few'
        when least(
            ({{ n1 }}) * ({{ k1 }} + {{ k2 }})::double / ({{ n1 }} + {{ n2 }}),
            ({{ n1 }}) * (1 - ({{ k1 }} + {{ k2 }})::double / ({{ n1 }} + {{ n2 }})),
            ({{ n2 }}) * ({{ k1 }} + {{ k2 }})::double / ({{ n1 }} + {{ n2 }}),
            ({{ n2 }}) * (1 - ({{ k1 }} + {{ k2 }})::double / ({{ n1 }} + {{ n2 }}))) < 5 then 'too_few'
        when abs({{ two_proportion_z(k1, n1, k2, n2) }}) >= 1.959963984540054 then 'significant'
        else 'not_significant'
    end
{%- endmacro %}
