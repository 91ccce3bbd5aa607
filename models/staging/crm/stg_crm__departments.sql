-- One row per row of the `crm/departments` export: typed, trimmed, normalised. Extra export columns are kept.
with source as (

    select * from {{ source('crm', 'departments') }}

),

renamed as (

    select
        {{ cl_text('department_id') }} as department_id,
        {{ cl_text('department_name') }} as department_name,
        {{ cl_text('parent_department_id') }} as parent_department_id,
        {{ cl_text('region') }} as region,
        {{ cl_star_except('source', source('crm', 'departments'), ['department_id', 'department_name', 'parent_department_id', 'region']) }}
    from source

),

final as (

    select * from renamed

)

select * from final
