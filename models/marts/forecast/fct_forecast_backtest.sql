-- How right past forecasts were: at every past month end, per department and for the company (department_id
-- null), each method's Brier score and bookings predicted within the horizon against the bookings that came
-- (docs/metrics.md#forecast-backtest).
with scores as (

    select * from {{ ref('int_forecast__backtest_scores') }}

),

scored as (

    -- one pass for both grains: the department's rows and the company's (all deals, whatever their department)
    select
        as_of_at,
        department_id,
        method,
        grouping(department_id) as is_company,
        count(*) as deals,
        avg((probability - outcome) * (probability - outcome)) as brier_score,
        sum(amount * probability) as predicted_bookings,
        sum(amount * outcome) as actual_bookings,
        avg(probability) as mean_probability,
        avg(outcome) as observed_win_rate
    from scores
    group by grouping sets ((as_of_at, department_id, method), (as_of_at, method))

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
    from scored
    -- deals of no department count towards the company only
    where is_company = 1 or department_id is not null

)

select * from final
