-- The repeat-purchase model scored on a time split: fitted on the purchase days up to as_of - 12 months (fitted_to),
-- its prediction for the 12 months to as_of beside what each account actually bought then.
with backtest as (

    select *
    from {{ ref('int_customer__repeat_purchase_model') }}
    where scope = 'backtest'

),

final as (

    select
        cast(as_of_date as date) as as_of_date,
        cast(fitted_to as date) as fitted_to,
        account_id,
        frequency,
        recency_weeks,
        t_weeks,
        p_alive,
        expected_orders_12m as predicted_orders,
        cast(actual_orders as bigint) as actual_orders,
        predicted_value_12m as predicted_revenue,
        actual_revenue,
        -- signed errors: positive when the model expected more than happened
        expected_orders_12m - actual_orders as orders_error,
        predicted_value_12m - actual_revenue as revenue_error
    from backtest

)

select * from final
