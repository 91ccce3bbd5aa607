{# Generic data tests used by the pipeline models (no dbt packages can be installed here). #}

{# Fails on every row where the boolean SQL `expression` is false (nulls pass, as in dbt_utils). #}
{% test pipeline_expression_is_true(model, expression, column_name=none) %}
    select * from {{ model }} where not ({{ expression }})
{% endtest %}

{# Fails on every combination of `columns` that occurs more than once; a null is a value like any other,
   so the company-wide rows (department_id null) are checked too. #}
{% test pipeline_unique_combination(model, columns) %}
    select {{ columns | join(', ') }}, count(*) as occurrences
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}
