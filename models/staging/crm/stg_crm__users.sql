-- One row per row of the `crm/users` export: typed, trimmed, normalised. Extra export columns are kept.
with source as (

    select * from {{ source('crm', 'users') }}

),

renamed as (

    select
        {{ cl_text('user_id') }} as user_id,
        {{ cl_text('user_name') }} as user_name,
        {{ cl_text('department_id') }} as department_id,
        {{ cl_enum('role') }} as role,
        {{ cl_text('manager_user_id') }} as manager_user_id,
        {{ cl_typed('hired_at') }} as hired_at,
        {{ cl_typed('left_at') }} as left_at,
        {{ cl_star_except('source', source('crm', 'users'), ['user_id', 'user_name', 'department_id', 'role', 'manager_user_id', 'hired_at', 'left_at']) }}
    from source

),

final as (

    select * from renamed

)

select * from final
