-- One row per account with at least one order to date: first order, revenue by order type, lifetime value,
-- subscriptions and renewals, and whether the account is a customer at as_of.
with as_of as (

    select as_of_date from {{ ref('int_as_of') }}

),

orders as (

    select * from {{ ref('int_customer__orders') }}

),

order_totals as (

    select
        account_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        count(*) as order_count,
        coalesce(sum(amount) filter (where order_type = 'new'), 0) as revenue_new,
        coalesce(sum(amount) filter (where order_type = 'renewal'), 0) as revenue_renewal,
        coalesce(sum(amount) filter (where order_type = 'upsell'), 0) as revenue_upsell,
        coalesce(sum(amount) filter (where order_type = 'cross_sell'), 0) as revenue_cross_sell,
        coalesce(sum(amount) filter (where order_type = 'service'), 0) as revenue_service,
        -- every order counts, whatever its type and whether or not it has a subscription period
        coalesce(sum(amount), 0) as lifetime_value,
        count(*) filter (where is_subscription) as subscription_count,
        count(*) filter (where is_subscription_ended) as subscriptions_ended,
        count(*) filter (where is_subscription_ended and is_renewed) as subscriptions_renewed,
        max(active_until) as active_until
    from orders
    group by account_id

),

final as (

    select
        order_totals.account_id,
        order_totals.first_order_date,
        cast(date_trunc('month', order_totals.first_order_date) as date) as first_order_month,
        order_totals.last_order_date,
        order_totals.order_count,
        order_totals.revenue_new,
        order_totals.revenue_renewal,
        order_totals.revenue_upsell,
        order_totals.revenue_cross_sell,
        order_totals.revenue_service,
        order_totals.lifetime_value,
        order_totals.subscription_count,
        order_totals.subscriptions_ended,
        order_totals.subscriptions_renewed,
        order_totals.active_until,
        -- which activity rule applies: an account with any subscription order is followed by its subscriptions
        -- (MRR, NRR); one that only ever ordered without a subscription period by the order window
        case when order_totals.subscription_count > 0 then 'subscription' else 'order_window' end as retention_rule,
        -- every active span starts by as_of, so the account is a customer at as_of exactly when its
        -- latest span has not ended before the as-of day
        order_totals.active_until >= as_of.as_of_date as is_active,
        case when order_totals.active_until < as_of.as_of_date then order_totals.active_until end as churned_at
    from order_totals
    cross join as_of

)

select * from final
