-- What validation did to every contract table of the export this warehouse was built from: files read, rows
-- read, loaded and set aside (by rule), warn-level findings, checks that could not run. The landing writes the
-- by-rule detail as JSON; it is kept as JSON beside typed totals, so a new rule needs no model change.
with source as (

    select * from {{ source('closedloop_landing', 'load_report') }}

),

typed as (

    select
        cast(table_key as varchar) as table_key,
        -- the report lists the tables in contract order (docs/input-contract.md), which is the order people read them in
        cast(file_row_number + 1 as integer) as table_order,
        cast(status as varchar) as status,
        coalesce(nullif(cast(files as varchar), ''), '[]') as files,
        cast(rows_read as bigint) as rows_read,
        cast(rows_loaded as bigint) as rows_loaded,
        cast(rows_rejected as bigint) as rows_rejected,
        coalesce(nullif(cast(rejected_by_rule as varchar), ''), '{}') as rejected_by_rule,
        coalesce(nullif(cast(warnings_by_rule as varchar), ''), '{}') as warnings_by_rule,
        coalesce(nullif(cast(not_checked as varchar), ''), '[]') as not_checked,
        coalesce(nullif(cast(missing_optional_columns as varchar), ''), '[]') as missing_optional_columns,
        coalesce(nullif(cast(extra_columns as varchar), ''), '[]') as extra_columns,
        nullif(trim(cast(note as varchar)), '') as note,
        nullif(trim(cast(mapping as varchar)), '') as mapping,
        nullif(trim(cast(raw_dir as varchar)), '') as raw_dir,
        -- the landing folder is named for the build (`landing/<build-id>/`)
        regexp_extract(replace(filename, '\', '/'), '([^/]+)/[^/]+$', 1) as build_id
    from source

),

final as (

    select
        table_key,
        split_part(table_key, '/', 1) as source_family,
        split_part(table_key, '/', 2) as table_name,
        table_order,
        status,
        status = 'absent' as is_absent,
        files,
        cast(json_array_length(files) as integer) as file_count,
        rows_read,
        rows_loaded,
        rows_rejected,
        -- README, "Bad rows are set aside": rows read = rows loaded + rows set aside, always
        coalesce(rows_read = rows_loaded + rows_rejected, false) as is_balanced,
        rejected_by_rule,
        warnings_by_rule,
        cast(coalesce(list_sum(map_values(cast(json(warnings_by_rule) as map(varchar, bigint)))), 0) as bigint)
            as warning_count,
        not_checked,
        cast(json_array_length(not_checked) as integer) as not_checked_count,
        missing_optional_columns,
        extra_columns,
        note,
        mapping,
        raw_dir,
        build_id
    from typed

)

select * from final
