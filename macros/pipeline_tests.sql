{# Generic data tests used by the pipeline models (no dbt packages can be installed here). #}

{# Fails on every row where the boolean SQL `expression` is false (nulls pass, as in dbt_utils). #}
{% test pipeline_expression_is_true(model, expression, column_name=none) %}
    select * from {{ model }} where not ({{ expression }})
{% endtest %}

