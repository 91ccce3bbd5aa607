-- Cohorts of accounts by the month of their first order, followed month by month up to as_of_month:
-- how many are still customers (logo retention) and how their MRR compares with their first month (NRR).
with as_of as (

    select as_of_month from {{ ref('int_as_of') }}

),

cohort_members as (

    select account_id, first_order_month as cohort_month
    from {{ ref('int_customer__account_lifetime') }}

),

cohorts as (

    select cohort_month, count(*) as accounts_in_cohort
    from cohort_members
    group by cohort_month

),

-- one row per cohort and month since, from 0 to as_of_month: cohorts × months, never accounts × months
cohort_offsets as (

    select
        cohorts.cohort_month,
        cohorts.accounts_in_cohort,
        unnest(range({{ plausible_months(customer_months_between('cohorts.cohort_month', 'as_of.as_of_month') ~ ' + 1') }})) as months_since
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

filled as (

    select
        cohort_offsets.cohort_month,
        cohort_offsets.months_since,
        cast(cohort_offsets.cohort_month + to_months(cohort_offsets.months_since) as date) as month,
        cohort_offsets.accounts_in_cohort,
        coalesce(member_months.accounts_active, 0) as accounts_active,
        coalesce(member_months.mrr, 0) as mrr
    from cohort_offsets
    left join member_months
        on cohort_offsets.cohort_month = member_months.cohort_month
        and cohort_offsets.months_since = member_months.months_since

),

with_base as (

    select
        *,
        first_value(mrr) over (partition by cohort_month order by months_since) as mrr_month0
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
        {{ safe_ratio('with_base.mrr', 'with_base.mrr_month0') }} as net_revenue_retention
    from with_base
    cross join as_of

)

select * from final
