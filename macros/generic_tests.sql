{# Generic data tests shared by every folder (dbt packages cannot be installed offline). #}

{# Fails on every combination of `columns` that occurs more than once (a composite key); a null is a value like
   any other, so company-wide rows (department_id null) are checked too. #}
{% test unique_combination(model, columns) %}
    select {{ columns | join(', ') }}, count(*) as occurrences
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}

{# The connected components are at their fixed point: no edge joins two different components. Fails with the
   edges that still do (a loop stopped early would leave some). #}
{% test identity_components_converged(model, edges_model) %}
    select edges.node_a, edges.node_b, a.component_id as component_a, b.component_id as component_b
    from {{ edges_model }} as edges
    inner join {{ model }} as a on a.node_id = edges.node_a
    inner join {{ model }} as b on b.node_id = edges.node_b
    where a.component_id <> b.component_id
{% endtest %}
