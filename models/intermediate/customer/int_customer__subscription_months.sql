-- MRR: each subscription order's amount spread evenly over its months (one row per subscription × month).
-- The expansion is per subscription and bounded by its length, never a calendar × account cross join.
-- Orders without a subscription period are not here: they count in lifetime value, not in MRR.
with subscriptions as (

    select
        order_id,
        account_id,
        order_type,
        amount,
        subscription_start,
        subscription_end,
        {{ customer_subscription_months('subscription_start', 'subscription_end') }} as subscription_months
    from {{ ref('int_customer__orders') }}
    where is_subscription

),

-- month k (0-based) of a subscription is the k-th calendar month from the month it starts in; with the
-- rounded month count a mid-month start still fills exactly subscription_months calendar months
expanded as (

    select
        subscriptions.*,
        {{ cl_unnest_range(plausible_months('subscriptions.subscription_months'), 'month_index') }}
    from subscriptions

),

final as (

    select
        order_id,
        account_id,
        order_type,
        {{ cl_add_months("date_trunc('month', subscription_start)", 'month_index') }} as month,
        cast(month_index as integer) as month_index,
        subscription_months,
        cast(amount as double) / subscription_months as mrr
    from expanded

)

select * from final
