{# Generic data tests of the ops models (no dbt packages can be installed here). #}

{# Fails on every row where the boolean SQL `expression` is not true (a null fails too: an unbalanced or
   unknown count is a failure of the report). #}
{% test ops_expression_is_true(model, expression, column_name=none) %}
    select * from {{ model }} where not coalesce({% if column_name %}{{ column_name }} {% endif %}{{ expression }}, false)
{% endtest %}

{# Fails on every table whose rows set aside (load report) differ from the distinct (file, row) pairs listed in
   the rejected rows: every row set aside must be listed, and no listed row may be missing from the count. #}
{% test ops_rejections_listed(model, rejected_model) %}
    with listed as (
        select table_key, count(distinct (source_file, source_row)) as listed_rows
        from {{ rejected_model }}
        group by table_key
    )
    select report.table_key, report.rows_rejected, coalesce(listed.listed_rows, 0) as listed_rows
    from {{ model }} as report
    left join listed on report.table_key = listed.table_key
    where report.rows_rejected <> coalesce(listed.listed_rows, 0)
{% endtest %}
