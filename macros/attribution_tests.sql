{# Generic data tests of the attribution marts (docs/metrics.md#attribution-models). #}

{# Credit is a share: between 0 and 1 on every touch, and it adds up to 1 per conversion and model (to a rounding
   error of the floating-point sum). #}
{% test attribution_credit_sums_to_one(model, tolerance=1e-9) %}
    select conversion_type, conversion_id, model, sum(credit) as total_credit, min(credit) as min_credit,
           max(credit) as max_credit
    from {{ model }}
    group by conversion_type, conversion_id, model
    having abs(sum(credit) - 1) > {{ tolerance }} or min(credit) < 0 or max(credit) > 1 + {{ tolerance }}
        or count(credit) <> count(*)
{% endtest %}

{# A won deal's revenue credit adds up to its amount under every model (half a cent of floating-point slack);
   lead and opportunity conversions carry none. #}
{% test attribution_revenue_sums_to_amount(model, opportunities_model) %}
    with credited as (
        select conversion_id, model, sum(revenue_credit) as revenue_credited
        from {{ model }}
        where conversion_type = 'won'
        group by conversion_id, model
    ),
    won as (
        select opportunity_id, amount from {{ opportunities_model }} where is_won
    )
    select credited.conversion_id, credited.model, credited.revenue_credited, won.amount
    from credited
    left join won
        on credited.conversion_id = won.opportunity_id
    where won.opportunity_id is null or abs(credited.revenue_credited - won.amount) > 0.005
    union all
    select conversion_id, model, revenue_credit, null
    from {{ model }}
    where conversion_type <> 'won' and revenue_credit is not null
{% endtest %}

{# No conversion lost, none invented: every lead, every opportunity and every won deal is a conversion of its type
   under every model that credits the type (w_shaped: opportunity and won), and nothing else is. #}
{% test attribution_covers_every_conversion(model, leads_model, opportunities_model) %}
    with expected as (
        {%- for conversion_type in attribution_conversion_types() %}
        {%- set types_loop = loop %}
        {%- for attribution_model in attribution_models_for(conversion_type) %}
        {%- if not (types_loop.first and loop.first) %}
        union all
        {%- endif %}
        {%- if conversion_type == 'lead' %}
        select 'lead' as conversion_type, lead_id as conversion_id, '{{ attribution_model }}' as model
        from {{ leads_model }}
        {%- else %}
        select '{{ conversion_type }}', opportunity_id, '{{ attribution_model }}'
        from {{ opportunities_model }}
        {%- if conversion_type == 'won' %} where is_won{% endif %}
        {%- endif %}
        {%- endfor %}
        {%- endfor %}
    ),
    found as (
        select distinct conversion_type, conversion_id, model from {{ model }}
    )
    select
        coalesce(expected.conversion_type, found.conversion_type) as conversion_type,
        coalesce(expected.conversion_id, found.conversion_id) as conversion_id,
        coalesce(expected.model, found.model) as model,
        case when found.conversion_id is null then 'missing' else 'unexpected' end as problem
    from expected
    full outer join found
        on expected.conversion_type = found.conversion_type
        and expected.conversion_id = found.conversion_id
        and expected.model = found.model
    where expected.conversion_id is null or found.conversion_id is null
{% endtest %}

{# A synthetic touch (touch_id null) stands alone on its path: one per conversion and model, credit 1. #}
{% test attribution_synthetic_touch_alone(model) %}
    select conversion_type, conversion_id, model, count(*) as path_rows
    from {{ model }}
    group by conversion_type, conversion_id, model
    having count(case when touch_id is null then 1 end) > 0
        and (count(*) <> 1 or min(credit) <> 1)
{% endtest %}

{# Near-equality of two aggregates (floating-point credit sums): `expression` over the model and
   `compare_expression` over `compare_model` differ by more than `tolerance`. #}
{% test attribution_totals_match(model, expression, compare_model, compare_expression, where='true',
                                 compare_where='true', tolerance=1e-6) %}
    with totals as (
        select
            (select coalesce({{ expression }}, 0) from {{ model }} where {{ where }}) as model_total,
            (select coalesce({{ compare_expression }}, 0) from {{ compare_model }} where {{ compare_where }})
                as compare_total
    )
    select * from totals where abs(model_total - compare_total) > {{ tolerance }}
{% endtest %}
