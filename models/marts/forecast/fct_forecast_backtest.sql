-- How right past forecasts were: at every past month end, per department and for the company (department_id
-- null), each method's Brier score and bookings predicted within the horizon against the bookings that came
-- (docs/metrics.md#forecast-backtest).
with scores as (

    select * from {{ ref('int_forecast__backtest_scores') }}

),

by_department as (

    select
        as_of_at,
        department_id,
        method,
        count(*) as deals,
        avg((probability - outcome) * (probability - outcome)) as brier_score,
        sum(amount * probability) as predicted_bookings,
        sum(amount * outcome) as actual_bookings,
        avg(probability) as mean_probability,
        avg(outcome) as observed_win_rate
    from scores
    where department_id is not null
    group by as_of_at, department_id, method

),

company as (

    select
        as_of_at,
        cast(null as string) as department_id,
        method,
        count(*) as deals,
        avg((probability - outcome) * (probability - outcome)) as brier_score,
        sum(amount * probability) as predicted_bookings,
        sum(amount * outcome) as actual_bookings,
        avg(probability) as mean_probability,
        avg(outcome) as observed_win_rate
    from scores
    group by as_of_at, method

),

final as (

    select
        as_of_at as as_of,
        cast(as_of_at as date) as month_end,
        department_id,
        method,
        deals,
        brier_score,
        predicted_bookings,
        actual_bookings,
        mean_probability,
        observed_win_rate,
        {{ var('forecast_backtest_horizon_days') }} as horizon_days
    from (
        select * from by_department
        union all
        select * from company
    ) as scored

)

select * from final
