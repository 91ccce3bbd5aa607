-- Stage conversion by cohort month (month of first entry into the stage) × department at entry × stage,
-- plus all-departments rows (department_id null). docs/metrics.md#stage-conversion.
with open_stages as (

    select stage_name, stage_order
    from {{ ref('stages') }}
    where not is_closed

),

stage_rows as (

    select
        cohort_month,
        department_id,
        stage_name,
        stage_order,
        outcome,
        -- Days are timed only for stages actually entered and left: a skipped stage was never spent in.
        case when exited_at is not null and not is_inferred then days_in_stage end as timed_days
    from {{ ref('int_opportunity_stages_reached') }}

),

-- One pass for both the department rows and the all-departments rows. An owner with no known department
-- counts in the company total only, so it cannot be mistaken for the all-departments row.
aggregated as (

    select
        cohort_month,
        department_id,
        grouping(department_id) = 1 as is_all_departments,
        stage_name,
        count(*) as reached,
        count(case when outcome = 'advanced' then 1 end) as advanced,
        count(case when outcome = 'lost_here' then 1 end) as lost,
        count(case when outcome = 'open_here' then 1 end) as open,
        count(timed_days) as timed_exits,
        median(timed_days) as median_days_in_stage
    from stage_rows
    group by grouping sets ((cohort_month, department_id, stage_name), (cohort_month, stage_name))

),

kept as (

    select * from aggregated
    where is_all_departments or department_id is not null

),

-- Every open stage for every cohort × department present, so the funnel has no holes: a stage nobody
-- reached shows reached = 0 and a null rate instead of vanishing.
cohorts as (

    select distinct cohort_month, department_id, is_all_departments from kept

),

grid as (

    select cohorts.cohort_month, cohorts.department_id, cohorts.is_all_departments,
           open_stages.stage_name, open_stages.stage_order
    from cohorts
    cross join open_stages

),

counts as (

    select
        grid.cohort_month,
        grid.department_id,
        grid.is_all_departments,
        grid.stage_name,
        grid.stage_order,
        coalesce(kept.reached, 0) as reached,
        coalesce(kept.advanced, 0) as advanced,
        coalesce(kept.lost, 0) as lost,
        coalesce(kept.open, 0) as open,
        coalesce(kept.advanced, 0) + coalesce(kept.lost, 0) as decided,
        coalesce(kept.timed_exits, 0) as timed_exits,
        kept.median_days_in_stage
    from grid
    left join kept
        on grid.cohort_month = kept.cohort_month
       and grid.is_all_departments = kept.is_all_departments
       and coalesce(grid.department_id, '') = coalesce(kept.department_id, '')
       and grid.stage_name = kept.stage_name

),

rates as (

    select
        *,
        {{ safe_ratio('advanced', 'decided') }} as conversion_rate,
        {{ wilson_low('advanced', 'decided') }} as ci_low,
        {{ wilson_high('advanced', 'decided') }} as ci_high
    from counts

),

-- cumulative_rate = product of the step rates from the first stage through this one, within the row's
-- cohort month × department: the chance to get from the first stage to beyond this one, with open deals
-- left out of every step as docs/metrics.md says. Null once any step so far has no decided deals.
chained as (

    select
        *,
        count(case when conversion_rate is null then 1 end) over funnel_so_far as steps_undefined,
        {{ cl_product_over('conversion_rate', 'funnel_so_far') }} as rate_product
    from rates
    window funnel_so_far as (
        partition by cohort_month, is_all_departments, department_id
        order by stage_order
        rows between unbounded preceding and current row
    )

),

final as (

    select
        cohort_month,
        department_id,
        stage_name,
        cast(stage_order as integer) as stage_order,
        reached,
        advanced,
        lost,
        open,
        decided,
        conversion_rate,
        ci_low,
        ci_high,
        case when steps_undefined = 0 then rate_product end as cumulative_rate,
        median_days_in_stage,
        timed_exits,
        is_all_departments
    from chained

)

select * from final
