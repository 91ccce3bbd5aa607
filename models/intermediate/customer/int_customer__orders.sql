-- Orders to date (order_date <= as_of_date) with the rules of the customer domain applied once:
-- whether an order is a subscription, which days it keeps the account active, and whether its
-- subscription was renewed.
with as_of as (

    select as_of_date from {{ ref('int_as_of') }}

),

orders as (

    select orders.*
    from {{ ref('stg_service__orders') }} as orders
    cross join as_of
    -- an order dated after as_of has not happened yet at the instant the marts describe
    where orders.order_date <= as_of.as_of_date

),

classified as (

    select
        order_id,
        account_id,
        order_date,
        amount,
        order_type,
        opportunity_id,
        subscription_start,
        subscription_end,
        -- a subscription needs both ends and a non-negative length; anything else is a one-off order
        -- (it counts in lifetime value, not in MRR)
        coalesce(subscription_start is not null and subscription_end is not null
                 and subscription_end >= subscription_start, false) as is_subscription
    from orders

),

coverage as (

    select
        *,
        -- the days an order keeps its account active: a subscription from the order (a prepaid renewal
        -- counts from the day it is signed) to its end; a one-off order for {{ active_window_months() }} months
        case when is_subscription then least(order_date, subscription_start) else order_date end as active_from,
        case when is_subscription then subscription_end
             else {{ cl_add_days(cl_add_months('order_date', active_window_months()), -1) }}
        end as active_until
    from classified

),

-- the renewals: a renewal order's subscription picks up where an earlier one ended
renewal_starts as (

    select account_id, subscription_start
    from classified
    where order_type = 'renewal' and is_subscription

),

-- a main-contract subscription (new or renewal order) is renewed when a renewal order of the same account starts
-- within {{ var('customer_renewal_match_days', 7) }} days of its end (renewals start the day after; a few days of
-- slack for late paperwork). A win-back months after a lapse starts later and is not a renewal of the lapsed term.
-- Joined on account only, so the work is bounded by each account's few renewals.
renewed_subscriptions as (

    select distinct coverage.order_id
    from coverage
    inner join renewal_starts
        on coverage.account_id = renewal_starts.account_id
        and renewal_starts.subscription_start
            between coverage.subscription_end - {{ var('customer_renewal_match_days', 7) }}
                and coverage.subscription_end + {{ var('customer_renewal_match_days', 7) }}
    where coverage.is_subscription
      and coverage.order_type in ('new', 'renewal')

),

final as (

    select
        coverage.order_id,
        coverage.account_id,
        coverage.order_date,
        coverage.amount,
        coverage.order_type,
        coverage.opportunity_id,
        coverage.subscription_start,
        coverage.subscription_end,
        coverage.is_subscription,
        coverage.active_from,
        coverage.active_until,
        -- renewal rate counts main contracts only: upsell and cross-sell add-ons run to the end of the main
        -- contract and renew with it, so counting them again would double the term
        coverage.is_subscription and coverage.order_type in ('new', 'renewal')
            and coverage.subscription_end <= as_of.as_of_date as is_subscription_ended,
        renewed_subscriptions.order_id is not null as is_renewed
    from coverage
    cross join as_of
    left join renewed_subscriptions
        on coverage.order_id = renewed_subscriptions.order_id

)

select * from final
