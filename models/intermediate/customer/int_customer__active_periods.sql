-- Continuous periods in which an account is a customer: the overlapping or adjacent active spans of its
-- orders (int_customer__orders.active_from..active_until) merged into islands. One row per period.
with spans as (

    select account_id, active_from, active_until
    from {{ ref('int_customer__orders') }}

),

-- gaps and islands: a span opens a new period when it starts after every earlier span has ended
-- (a span starting the day after the previous end continues the period)
flagged as (

    select
        *,
        case when active_from > max(active_until) over (
                    partition by account_id order by active_from, active_until
                    rows between unbounded preceding and 1 preceding) + 1
             then 1 else 0 end as is_new_period
    from spans

),

numbered as (

    select
        *,
        sum(is_new_period) over (
            partition by account_id order by active_from, active_until
            rows between unbounded preceding and current row) as period_number
    from flagged

),

final as (

    select
        account_id,
        cast(period_number + 1 as integer) as period_number,
        min(active_from) as active_from,
        max(active_until) as active_until
    from numbered
    group by account_id, period_number

)

select * from final
