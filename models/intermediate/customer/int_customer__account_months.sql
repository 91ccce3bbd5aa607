-- Account × calendar month up to as_of_month in which the account was a customer (some day of the month
-- inside an active period) or had subscription revenue, with its MRR. Expanded from the account's own periods,
-- so the row count is bounded by how long each account was a customer.
with as_of as (

    select as_of_month from {{ ref('int_as_of') }}

),

periods as (

    select * from {{ ref('int_customer__active_periods') }}

),

-- every period starts by as_of (an order counts from its order date); months after as_of_month are cut
period_bounds as (

    select
        periods.account_id,
        cast(date_trunc('month', periods.active_from) as date) as first_month,
        least(cast(date_trunc('month', periods.active_until) as date), as_of.as_of_month) as last_month
    from periods
    cross join as_of

),

period_offsets as (

    select
        account_id,
        first_month,
        {{ cl_unnest_range(plausible_months(customer_months_between('first_month', 'last_month') ~ ' + 1'), 'month_offset') }}
    from period_bounds

),

period_months as (

    select distinct
        account_id,
        {{ cl_add_months('first_month', 'month_offset') }} as month
    from period_offsets

),

mrr_months as (

    select
        subscription_months.account_id,
        subscription_months.month,
        sum(subscription_months.mrr) as mrr
    from {{ ref('int_customer__subscription_months') }} as subscription_months
    cross join as_of
    where subscription_months.month <= as_of.as_of_month
    group by subscription_months.account_id, subscription_months.month

),

final as (

    select
        coalesce(period_months.account_id, mrr_months.account_id) as account_id,
        coalesce(period_months.month, mrr_months.month) as month,
        coalesce(mrr_months.mrr, 0) as mrr
    from period_months
    full outer join mrr_months
        on period_months.account_id = mrr_months.account_id
        and period_months.month = mrr_months.month

)

select * from final
