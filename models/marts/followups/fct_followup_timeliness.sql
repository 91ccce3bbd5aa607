-- One row per department (and one company row, department_id null): the share of follow-ups done on time, with its
-- Wilson interval and whether it differs from the rest of the company (docs/metrics.md#follow-ups-done-on-time),
-- by the same significance rule as the stage rates (macros/stats.sql).
with followups as (

    select department_id, is_done_on_time, is_on_time_calc
    from {{ ref('fct_followups') }}

),

by_department as (

    select
        department_id,
        cast(count(*) as bigint) as followups,
        cast(sum(case when is_on_time_calc then 1 else 0 end) as bigint) as on_time_calc,
        cast(sum(case when is_done_on_time then 1 else 0 end) as bigint) as done_on_time
    from followups
    where department_id is not null
    group by department_id

),

company as (

    select
        cast(count(*) as bigint) as followups,
        cast(sum(case when is_on_time_calc then 1 else 0 end) as bigint) as on_time_calc,
        cast(sum(case when is_done_on_time then 1 else 0 end) as bigint) as done_on_time
    from followups

),

departments as (

    select
        by_department.department_id,
        false as is_all_departments,
        by_department.followups,
        by_department.on_time_calc,
        by_department.done_on_time,
        company.on_time_calc - by_department.on_time_calc as rest_on_time_calc,
        company.done_on_time - by_department.done_on_time as rest_done_on_time
    from by_department
    cross join company

),

company_row as (

    select
        cast(null as string) as department_id,
        true as is_all_departments,
        followups,
        on_time_calc,
        done_on_time,
        cast(null as bigint) as rest_on_time_calc,
        cast(null as bigint) as rest_done_on_time
    from company

),

unioned as (

    select * from departments
    union all
    select * from company_row

),

final as (

    select
        department_id,
        is_all_departments,
        followups,
        on_time_calc,
        done_on_time,
        {{ safe_ratio('done_on_time', 'on_time_calc') }} as on_time_share,
        {{ wilson_low('done_on_time', 'on_time_calc') }} as ci_low,
        {{ wilson_high('done_on_time', 'on_time_calc') }} as ci_high,
        {{ safe_ratio('rest_done_on_time', 'rest_on_time_calc') }} as rest_on_time_share,
        case when not is_all_departments then
            {{ significance_flag('done_on_time', 'on_time_calc', 'rest_done_on_time', 'rest_on_time_calc') }}
        end as significance
    from unioned

)

select * from final
