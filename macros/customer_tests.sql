{# Generic test: no two rows share the same values of `columns` (a composite key). Written here because
   dbt_utils cannot be installed offline. Fails with one row per duplicated key. #}
{% test customer_unique_combination(model, columns) %}

select {{ columns | join(', ') }}, count(*) as row_count
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
