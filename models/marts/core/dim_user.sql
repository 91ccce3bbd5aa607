-- Everyone who owns leads, accounts or opportunities, with the department hierarchy and manager resolved,
-- and whether they are employed at the as-of instant (not on the build day).
with users as (

    select * from {{ ref('stg_crm__users') }}

),

as_of as (

    select as_of_at from {{ ref('int_as_of') }}

),

departments as (

    select * from {{ ref('dim_department') }}

),

final as (

    select
        users.user_id,
        users.user_name,
        users.role,
        users.department_id,
        departments.department_name,
        departments.top_department_id,
        departments.top_department_name,
        departments.region,
        users.manager_user_id,
        managers.user_name as manager_user_name,
        users.hired_at,
        users.left_at,
        -- employed at as_of: hired by then (an unknown hire date counts as hired) and not yet left
        coalesce(users.hired_at <= as_of.as_of_at, true)
            and coalesce(users.left_at > as_of.as_of_at, true) as is_active
    from users
    cross join as_of
    left join departments
        on users.department_id = departments.department_id
    left join users as managers
        on users.manager_user_id = managers.user_id

)

select * from final
