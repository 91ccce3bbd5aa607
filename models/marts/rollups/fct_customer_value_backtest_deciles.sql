-- The repeat-purchase backtest by decile of predicted orders: the ten rows the Lifecycle page shows, ranked once per
-- build instead of on every load.
with ranked as (

    select
        as_of_date,
        fitted_to,
        predicted_orders,
        actual_orders,
        predicted_revenue,
        actual_revenue,
        ntile(10) over (order by predicted_orders, account_id) as decile
    from {{ ref('fct_customer_value_backtest') }}

),

final as (

    select
        cast(decile as integer) as decile,
        min(fitted_to) as fitted_to,
        max(as_of_date) as as_of_date,
        cast(count(*) as bigint) as accounts,
        cast(sum(predicted_orders) as double) as predicted_orders,
        cast(sum(actual_orders) as double) as actual_orders,
        cast(sum(predicted_revenue) as double) as predicted_revenue,
        cast(sum(actual_revenue) as double) as actual_revenue
    from ranked
    group by decile

)

select * from final
