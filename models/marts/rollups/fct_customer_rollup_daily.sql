-- Customers per day of first order × department × grade × source channel, with their lifecycle value summed: what
-- the Lifecycle page's value by grade and by source channel sum instead of joining every customer to its account.
-- Its size follows days × departments × grades × channels, not the number of customers.
with customers as (

    select
        customer_value.first_order_date,
        customer_value.department_id,
        customer_value.grade,
        accounts.source_channel,
        customer_value.is_active,
        customer_value.churned_at,
        customer_value.lifetime_value,
        customer_value.revenue_new,
        customer_value.revenue_renewal,
        customer_value.revenue_upsell,
        customer_value.revenue_cross_sell,
        customer_value.revenue_service,
        customer_value.referral_revenue
    from {{ ref('fct_customer_value') }} as customer_value
    left join {{ ref('dim_account') }} as accounts
        on accounts.account_id = customer_value.account_id
    where customer_value.first_order_date is not null

),

final as (

    select
        first_order_date,
        department_id,
        grade,
        source_channel,
        cast(count(*) as bigint) as customers,
        cast(sum(case when is_active then 1 else 0 end) as bigint) as active,
        cast(sum(case when churned_at is not null then 1 else 0 end) as bigint) as churned,
        cast(count(lifetime_value) as bigint) as valued_customers,
        cast(sum(lifetime_value) as decimal(38, 2)) as lifetime_value,
        cast(sum(revenue_new) as decimal(38, 2)) as revenue_new,
        cast(sum(revenue_renewal) as decimal(38, 2)) as revenue_renewal,
        cast(sum(revenue_upsell) as decimal(38, 2)) as revenue_upsell,
        cast(sum(revenue_cross_sell) as decimal(38, 2)) as revenue_cross_sell,
        cast(sum(revenue_service) as decimal(38, 2)) as revenue_service,
        cast(sum(referral_revenue) as decimal(38, 2)) as referral_revenue
    from customers
    group by first_order_date, department_id, grade, source_channel

)

select * from final
