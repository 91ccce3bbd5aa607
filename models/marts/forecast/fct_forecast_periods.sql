-- Expected bookings of the month, fiscal quarter and fiscal half-year holding the as-of instant, per department
-- and for the company (department_id null): won to date + the open deals' expected wins within the period, with
-- the P10/P50/P90 of that sum (docs/metrics.md#forecast-bookings); coverage against the optional targets seed.
with as_of as (

    select * from {{ ref('int_as_of') }}

),

bands as (

    select * from {{ ref('int_forecast__period_bands') }}

),

periods as (

    select distinct period, period_start, period_end, period_label
    from bands

),

open_deals as (

    select * from {{ ref('int_forecast__deal_probabilities') }}
    where is_current

),

won_deals as (

    select
        opportunities.department_id,
        opportunities.amount,
        opportunities.closed_at
    from {{ ref('fct_opportunities') }} as opportunities
    where opportunities.is_won

),

won_by_department as (

    select periods.period, won_deals.department_id, sum(won_deals.amount) as won_to_date
    from periods
    cross join as_of
    inner join won_deals
        on won_deals.closed_at >= periods.period_start
        and won_deals.closed_at <= as_of.as_of_at
    where won_deals.department_id is not null
    group by periods.period, won_deals.department_id

),

won_company as (

    select periods.period, cast(null as string) as department_id, sum(won_deals.amount) as won_to_date
    from periods
    cross join as_of
    inner join won_deals
        on won_deals.closed_at >= periods.period_start
        and won_deals.closed_at <= as_of.as_of_at
    group by periods.period

),

won as (

    select * from won_by_department
    union all
    select * from won_company

),

pipeline_by_department as (

    select department_id, sum(amount) as open_pipeline, count(*) as open_deals
    from open_deals
    where department_id is not null
    group by department_id

),

pipeline_company as (

    select cast(null as string) as department_id, sum(amount) as open_pipeline, count(*) as open_deals
    from open_deals

),

pipeline as (

    select * from pipeline_by_department
    union all
    select * from pipeline_company

),

-- every department with open deals or wins in a period, and the company row of every period
grid as (

    select period, department_id from bands
    union
    select period, department_id from won

),

targets as (

    select
        nullif(trim(cast(department_id as string)), '') as department_id,
        trim(cast(period as string)) as period_label,
        cast(amount as double) as target_amount
    from {{ ref('targets') }}

),

department_targets as (

    select department_id, period_label, sum(target_amount) as target_amount
    from targets
    where department_id is not null
    group by department_id, period_label

),

-- the company's target: its own row when the seed has one, else the sum of the departments'
company_targets as (

    select
        cast(null as string) as department_id,
        period_label,
        coalesce(sum(case when department_id is null then target_amount end),
                 sum(case when department_id is not null then target_amount end)) as target_amount
    from targets
    group by period_label

),

final as (

    select
        as_of.as_of_at as as_of,
        grid.period,
        periods.period_label,
        cast(periods.period_start as date) as period_start,
        cast(periods.period_end as date) as period_end,
        grid.department_id,
        cast(coalesce(won.won_to_date, 0) as decimal(38, 2)) as won_to_date,
        coalesce(won.won_to_date, 0) + coalesce(bands.expected_open_bookings, 0) as expected_bookings,
        coalesce(won.won_to_date, 0) + coalesce(bands.open_p10, 0) as p10,
        coalesce(won.won_to_date, 0) + coalesce(bands.open_p50, 0) as p50,
        coalesce(won.won_to_date, 0) + coalesce(bands.open_p90, 0) as p90,
        coalesce(bands.expected_open_bookings, 0) as expected_open_bookings,
        coalesce(pipeline.open_pipeline, 0) as open_pipeline,
        coalesce(pipeline.open_deals, 0) as open_deals,
        coalesce(department_targets.target_amount, company_targets.target_amount) as target_amount,
        coalesce(department_targets.target_amount, company_targets.target_amount)
            - coalesce(won.won_to_date, 0) as remaining_target,
        -- denominator: the target still to win; no coverage without a target or once it is met
        case
            when coalesce(department_targets.target_amount, company_targets.target_amount)
                - coalesce(won.won_to_date, 0) > 0
                then coalesce(pipeline.open_pipeline, 0)
                    / (coalesce(department_targets.target_amount, company_targets.target_amount)
                        - coalesce(won.won_to_date, 0))
        end as coverage
    from grid
    cross join as_of
    inner join periods
        on grid.period = periods.period
    left join bands
        on grid.period = bands.period
        and grid.department_id is not distinct from bands.department_id
    left join won
        on grid.period = won.period
        and grid.department_id is not distinct from won.department_id
    left join pipeline
        on grid.department_id is not distinct from pipeline.department_id
    left join department_targets
        on grid.department_id = department_targets.department_id
        and periods.period_label = department_targets.period_label
    left join company_targets
        on grid.department_id is null
        and periods.period_label = company_targets.period_label

)

select * from final
