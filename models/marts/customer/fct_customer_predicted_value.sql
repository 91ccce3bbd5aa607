-- Predicted value of the next 12 months of every account that buys without a subscription, from the repeat-purchase
-- model fitted on all its purchase days to as_of (BG/NBD for the number of orders, Gamma-Gamma for their value).
with predictions as (

    select *
    from {{ ref('int_customer__repeat_purchase_model') }}
    where scope = 'forecast'

),

accounts as (

    select account_id, grade, owner_department_id
    from {{ ref('dim_account') }}

),

final as (

    select
        cast(predictions.as_of_date as date) as as_of_date,
        predictions.account_id,
        accounts.grade,
        accounts.owner_department_id as department_id,
        predictions.frequency,
        predictions.recency_weeks,
        predictions.t_weeks,
        predictions.monetary_value,
        predictions.expected_orders_12m,
        predictions.expected_avg_order_value,
        predictions.predicted_value_12m,
        predictions.p_alive
    from predictions
    left join accounts
        on predictions.account_id = accounts.account_id

)

select * from final
