-- Cohorts of accounts by the month of their first order, followed month by month up to as_of_month:
-- how many are still customers (logo retention) and how their MRR compares with their first month (NRR).
with as_of as (

    select as_of_month from {{ ref('int_as_of') }}

),

cohort_members as (

    select account_id, first_order_month as cohort_month, retention_rule
    from {{ ref('int_customer__account_lifetime') }}

),

cohorts as (

    select
        cohort_month,
        count(*) as accounts_in_cohort,
        sum(case when retention_rule = 'order_window' then 1 else 0 end) as order_window_accounts
    from cohort_members
    group by cohort_month

),

-- one row per cohort and month since, from 0 to as_of_month: cohorts × months, never accounts × months
cohort_offsets as (

    select
        cohorts.cohort_month,
        cohorts.accounts_in_cohort,
        cohorts.order_window_accounts,
        {{ cl_unnest_range(plausible_months(customer_months_between('cohorts.cohort_month', 'as_of.as_of_month') ~ ' + 1'), 'months_since') }}
    from cohorts
    cross join as_of

),

member_months as (

    select
        cohort_members.cohort_month,
        {{ customer_months_between('cohort_members.cohort_month', 'account_months.month') }} as months_since,
        -- a row of int_customer__account_months is a month in which the account was a customer
        count(*) as accounts_active,
        sum(account_months.mrr) as mrr
    from {{ ref('int_customer__account_months') }} as account_months
    inner join cohort_members
        on account_months.account_id = cohort_members.account_id
    -- a subscription starting before its first order (backdated) has MRR before the cohort month: not a month since
    where account_months.month >= cohort_members.cohort_month
    group by all

),

-- the cohort's accounts that never had a subscription order, by the months (since the cohort month) they ordered in
order_window_order_months as (

    select
        cohort_members.cohort_month,
        cohort_members.account_id,
        {{ customer_months_between('cohort_members.cohort_month', "cast(date_trunc('month', orders.order_date) as date)") }} as months_since,
        sum(orders.amount) as revenue
    from {{ ref('int_customer__orders') }} as orders
    inner join cohort_members
        on orders.account_id = cohort_members.account_id
    where cohort_members.retention_rule = 'order_window'
    group by
        cohort_members.cohort_month,
        cohort_members.account_id,
        {{ customer_months_between('cohort_members.cohort_month', "cast(date_trunc('month', orders.order_date) as date)") }}

),

order_window_revenue as (

    select cohort_month, months_since, sum(revenue) as revenue
    from order_window_order_months
    group by cohort_month, months_since

),

-- order window: active in month k when it ordered in one of the {{ active_window_months() }} calendar months ending
-- with month k; joined on cohort and a bounded month range, so each order month meets at most that many offsets
order_window_active as (

    select
        cohort_offsets.cohort_month,
        cohort_offsets.months_since,
        count(distinct order_months.account_id) as accounts_active
    from cohort_offsets
    inner join order_window_order_months as order_months
        on cohort_offsets.cohort_month = order_months.cohort_month
        and order_months.months_since between cohort_offsets.months_since - {{ active_window_months() - 1 }}
                                          and cohort_offsets.months_since
    group by cohort_offsets.cohort_month, cohort_offsets.months_since

),

filled as (

    select
        cohort_offsets.cohort_month,
        cohort_offsets.months_since,
        {{ cl_add_months('cohort_offsets.cohort_month', 'cohort_offsets.months_since') }} as month,
        cohort_offsets.accounts_in_cohort,
        coalesce(member_months.accounts_active, 0) as accounts_active,
        coalesce(member_months.mrr, 0) as mrr,
        cohort_offsets.order_window_accounts,
        coalesce(order_window_active.accounts_active, 0) as order_window_active,
        coalesce(order_window_revenue.revenue, 0) as order_window_revenue
    from cohort_offsets
    left join member_months
        on cohort_offsets.cohort_month = member_months.cohort_month
        and cohort_offsets.months_since = member_months.months_since
    left join order_window_active
        on cohort_offsets.cohort_month = order_window_active.cohort_month
        and cohort_offsets.months_since = order_window_active.months_since
    left join order_window_revenue
        on cohort_offsets.cohort_month = order_window_revenue.cohort_month
        and cohort_offsets.months_since = order_window_revenue.months_since

),

with_base as (

    select
        *,
        first_value(mrr) over (partition by cohort_month order by months_since) as mrr_month0,
        first_value(order_window_revenue) over (partition by cohort_month order by months_since) as order_window_revenue_month0
    from filled

),

final as (

    select
        with_base.cohort_month,
        with_base.months_since,
        with_base.month,
        -- the as-of month is still running: its retention can only rise
        with_base.month = as_of.as_of_month as is_partial_month,
        cast(with_base.accounts_in_cohort as bigint) as accounts_in_cohort,
        cast(with_base.accounts_active as bigint) as accounts_active,
        {{ safe_ratio('with_base.accounts_active', 'with_base.accounts_in_cohort') }} as logo_retention,
        cast(with_base.mrr as double) as mrr,
        cast(with_base.mrr_month0 as double) as mrr_month0,
        -- null when the cohort had no subscription revenue in its first month (nothing to retain)
        {{ safe_ratio('with_base.mrr', 'with_base.mrr_month0') }} as net_revenue_retention,
        -- which rule the cohort is read by: subscription when any of its accounts has a subscription order (its
        -- MRR and NRR), order_window when none has (order_window_retention and revenue_retention)
        case when with_base.order_window_accounts < with_base.accounts_in_cohort then 'subscription'
             else 'order_window' end as retention_rule,
        cast(with_base.order_window_accounts as bigint) as order_window_accounts,
        cast(with_base.order_window_active as bigint) as order_window_active,
        {{ safe_ratio('with_base.order_window_active', 'with_base.order_window_accounts') }} as order_window_retention,
        cast(with_base.order_window_revenue as double) as order_window_revenue,
        cast(with_base.order_window_revenue_month0 as double) as order_window_revenue_month0,
        -- null when the cohort's order-window accounts bought nothing in month 0 (none, or all subscription)
        {{ safe_ratio('with_base.order_window_revenue', 'with_base.order_window_revenue_month0') }} as revenue_retention
    from with_base
    cross join as_of

)

select * from final
