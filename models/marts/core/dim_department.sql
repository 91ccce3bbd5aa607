-- The sales organisation as a hierarchy: every department with its chain of parents resolved, so any fact
-- carrying a department_id can be rolled up to its region (top-level department) in one join.
with recursive departments as (

    select department_id, department_name, parent_department_id, region
    from {{ ref('stg_crm__departments') }}

),

-- the departments export is optional: a department users point at but the export lacks still gets a row
-- (named by its id, at the top), so user and opportunity facts never lose their department
missing_departments as (

    select distinct
        users.department_id,
        users.department_id as department_name,
        cast(null as string) as parent_department_id,
        cast(null as string) as region
    from {{ ref('stg_crm__users') }} as users
    where users.department_id is not null
      and users.department_id not in (select department_id from departments where department_id is not null)

),

all_departments as (

    select *, false as is_inferred from departments
    union all
    select *, true as is_inferred from missing_departments

),

-- a parent the export does not contain is treated as no parent: the department becomes a top level
resolved_parents as (

    select
        all_departments.*,
        case when parents.department_id is not null then all_departments.parent_department_id end as resolved_parent_id
    from all_departments
    left join all_departments as parents
        on all_departments.parent_department_id = parents.department_id

),

-- walk down from the top levels; the visited list stops a cyclic export from recursing forever
-- (departments on a cycle without a top level are picked up as their own top level below)
hierarchy as (

    select
        department_id,
        department_id as top_department_id,
        department_name as top_department_name,
        1 as level,
        department_name as path,
        region as inherited_region,
        {{ cl_list_of('department_id') }} as visited
    from resolved_parents
    where resolved_parent_id is null

    union all

    select
        children.department_id,
        hierarchy.top_department_id,
        hierarchy.top_department_name,
        hierarchy.level + 1,
        hierarchy.path || ' / ' || children.department_name,
        coalesce(children.region, hierarchy.inherited_region),
        {{ cl_list_append('hierarchy.visited', 'children.department_id') }}
    from resolved_parents as children
    inner join hierarchy
        on children.resolved_parent_id = hierarchy.department_id
    where not {{ cl_list_contains('hierarchy.visited', 'children.department_id') }}
      and hierarchy.level < 50

),

-- one placement per department (a duplicated id in a messy export could be reached twice)
placed as (

    select *
    from hierarchy
    qualify row_number() over (partition by department_id order by level, path) = 1

),

final as (

    select
        resolved_parents.department_id,
        resolved_parents.department_name,
        resolved_parents.resolved_parent_id as parent_department_id,
        parents.department_name as parent_department_name,
        -- the region written on the department, else the nearest ancestor's
        coalesce(placed.inherited_region, resolved_parents.region) as region,
        coalesce(placed.level, 1) as level,
        coalesce(placed.path, resolved_parents.department_name) as path,
        coalesce(placed.top_department_id, resolved_parents.department_id) as top_department_id,
        coalesce(placed.top_department_name, resolved_parents.department_name) as top_department_name,
        resolved_parents.is_inferred
    from resolved_parents
    left join placed
        on resolved_parents.department_id = placed.department_id
    left join resolved_parents as parents
        on resolved_parents.resolved_parent_id = parents.department_id

)

select * from final
