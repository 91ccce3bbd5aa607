-- Reliability table of the backtest: per method, the ten probability bins (0–0.1 … 0.9–1), how many deal forecasts
-- fell in each, their mean probability and the share that were won within the horizon, pooled over every backtest
-- month end, company-wide (one month end alone leaves most bins nearly empty). docs/metrics.md#forecast-backtest.
with scores as (

    select * from {{ ref('int_forecast__backtest_scores') }}

),

bins as (

    {% for b in range(1, 11) %}
    select {{ b }} as bin{% if not loop.last %} union all{% endif %}
    {% endfor %}

),

methods as (

    select 'model' as method
    union all select 'stage_seed'
    union all select 'closed_only'

),

binned as (

    select
        method,
        bin,
        count(*) as n,
        avg(probability) as predicted_mean,
        avg(outcome) as observed_rate
    from scores
    group by method, bin

),

span as (

    select min(as_of_at) as first_as_of, max(as_of_at) as last_as_of, count(distinct as_of_at) as month_ends
    from scores

),

final as (

    select
        methods.method,
        bins.bin,
        (bins.bin - 1) / {{ cl_double_literal('10.0') }} as bin_low,
        bins.bin / {{ cl_double_literal('10.0') }} as bin_high,
        coalesce(binned.n, 0) as n,
        binned.predicted_mean,
        binned.observed_rate,
        span.first_as_of,
        span.last_as_of,
        span.month_ends
    from methods
    cross join bins
    cross join span
    left join binned
        on methods.method = binned.method
        and bins.bin = binned.bin

)

select * from final
