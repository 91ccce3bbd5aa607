-- Lifecycle value (价值旅程) of every account: what it bought by order type, what the accounts it referred
-- bought, how long it has been a customer and whether it still is. Accounts without orders are kept with
-- zero revenue so the grain is every account of dim_account.
with as_of as (

    select as_of_date from {{ ref('int_as_of') }}

),

accounts as (

    select account_id, grade, owner_user_id, owner_department_id, referred_by_account_id, is_referred
    from {{ ref('dim_account') }}

),

lifetime as (

    select * from {{ ref('int_customer__account_lifetime') }}

),

-- referral revenue: direct referrals only (the accounts naming this one in referred_by_account_id),
-- not the accounts those referred in turn
referrals as (

    select
        accounts.referred_by_account_id as account_id,
        count(*) as referred_accounts,
        coalesce(sum(lifetime.lifetime_value), 0) as referral_revenue
    from accounts
    left join lifetime
        on accounts.account_id = lifetime.account_id
    where accounts.referred_by_account_id is not null
    group by accounts.referred_by_account_id

),

final as (

    select
        accounts.account_id,
        accounts.grade,
        accounts.owner_user_id,
        accounts.owner_department_id as department_id,
        accounts.referred_by_account_id,
        accounts.is_referred,
        lifetime.first_order_date,
        lifetime.first_order_month,
        lifetime.last_order_date,
        coalesce(lifetime.order_count, 0) as order_count,
        cast(coalesce(lifetime.revenue_new, 0) as decimal(18, 2)) as revenue_new,
        cast(coalesce(lifetime.revenue_renewal, 0) as decimal(18, 2)) as revenue_renewal,
        cast(coalesce(lifetime.revenue_upsell, 0) as decimal(18, 2)) as revenue_upsell,
        cast(coalesce(lifetime.revenue_cross_sell, 0) as decimal(18, 2)) as revenue_cross_sell,
        cast(coalesce(lifetime.revenue_service, 0) as decimal(18, 2)) as revenue_service,
        cast(coalesce(lifetime.lifetime_value, 0) as decimal(18, 2)) as lifetime_value,
        coalesce(referrals.referred_accounts, 0) as referred_accounts,
        cast(coalesce(referrals.referral_revenue, 0) as decimal(18, 2)) as referral_revenue,
        coalesce(lifetime.subscription_count, 0) as subscription_count,
        coalesce(lifetime.subscriptions_ended, 0) as subscriptions_ended,
        coalesce(lifetime.subscriptions_renewed, 0) as subscriptions_renewed,
        -- complete months from the first order to the churn day, or to as_of while still a customer
        case when lifetime.first_order_date is not null
            then cast({{ cl_complete_months('lifetime.first_order_date', 'coalesce(lifetime.churned_at, as_of.as_of_date)') }} as integer)
        end as tenure_months,
        lifetime.active_until,
        lifetime.retention_rule,
        coalesce(lifetime.is_active, false) as is_active,
        lifetime.churned_at,
        case
            when lifetime.account_id is null then 'prospect'
            when lifetime.is_active then 'active'
            else 'churned'
        end as lifecycle_status
    from accounts
    cross join as_of
    left join lifetime
        on accounts.account_id = lifetime.account_id
    left join referrals
        on accounts.account_id = referrals.account_id

)

select * from final
