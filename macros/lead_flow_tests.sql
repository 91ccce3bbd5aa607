{# Generic data tests of the lead-flow models (no dbt packages can be installed here). #}

{# Fails on every row where the boolean SQL `expression` is false (nulls pass, as in dbt_utils). On a column,
   the expression continues the column name (e.g. `>= 0`). #}
{% test lead_flow_expression_is_true(model, expression, column_name=none) %}
    select * from {{ model }} where not ({% if column_name %}{{ column_name }} {% endif %}{{ expression }})
{% endtest %}

{# Row parity: the model has exactly as many rows as `compare_model` (no lead lost, none fanned out). #}
{% test lead_flow_row_count_equals(model, compare_model) %}
    with counts as (
        select
            (select count(*) from {{ model }}) as model_rows,
            (select count(*) from {{ compare_model }}) as compare_rows
    )
    select * from counts where model_rows <> compare_rows
{% endtest %}

{# The company-wide rows hold every lead created by the as-of day exactly once, and their open backlog on
   that day equals the open leads counted directly from the lead mart: no lead lost, none counted twice,
   and the running sum does not drift. #}
{% test lead_flow_backlog_reconciles(model, leads_model, as_of_model) %}
    with as_of as (
        select as_of_date from {{ as_of_model }}
    ),
    from_flow as (
        select
            coalesce(sum(flow.open_backlog) filter (where flow.flow_date = as_of.as_of_date), 0) as open_backlog,
            coalesce(sum(flow.created), 0) as created
        from {{ model }} as flow
        cross join as_of
        where flow.department_id is null
    ),
    from_leads as (
        select
            count(*) filter (
                where leads.final_status = 'open'
                    or cast(coalesce(leads.closed_at, leads.created_at) as date) > as_of.as_of_date
            ) as open_leads,
            count(*) as created_leads
        from {{ leads_model }} as leads
        cross join as_of
        where cast(leads.created_at as date) <= as_of.as_of_date
    )
    select * from from_flow cross join from_leads where open_backlog <> open_leads or created <> created_leads
{% endtest %}

{# No fan-out, no loss: an aggregate of the model equals the same figure computed on its source.
   `expression` and `compare_expression` are aggregate SQL (e.g. `sum(leads)`, `count(*)`). #}
{% test lead_flow_totals_match(model, expression, compare_model, compare_expression, compare_where='true') %}
    with totals as (
        select
            (select coalesce({{ expression }}, 0) from {{ model }}) as model_total,
            (select coalesce({{ compare_expression }}, 0) from {{ compare_model }} where {{ compare_where }}) as compare_total
    )
    select * from totals where model_total <> compare_total
{% endtest %}
