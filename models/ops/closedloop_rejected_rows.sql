-- Every value validation set aside, with where it came from (file and row as a spreadsheet numbers it, header =
-- row 1), the column, the rule and the offending value. A row that failed two rules appears twice; the load
-- report counts it once.
with source as (

    select * from {{ source('closedloop_landing', 'rejected') }}

),

typed as (

    select
        cast(table_key as varchar) as table_key,
        cast(file as varchar) as source_file,
        cast("row" as bigint) as source_row,
        nullif(cast(column_name as varchar), '') as column_name,
        cast(rule as varchar) as rule,
        cast(value as varchar) as value,
        cast(message as varchar) as message,
        regexp_extract(replace(filename, '\', '/'), '([^/]+)/[^/]+$', 1) as build_id
    from source

),

final as (

    select
        cast(row_number() over (
            order by table_key, source_file, source_row, column_name nulls first, rule, value
        ) as bigint) as rejection_id,
        table_key,
        split_part(table_key, '/', 1) as source_family,
        split_part(table_key, '/', 2) as table_name,
        source_file,
        source_row,
        column_name,
        rule,
        value,
        message,
        build_id
    from typed

)

select * from final
