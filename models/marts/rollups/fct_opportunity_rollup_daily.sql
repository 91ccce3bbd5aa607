-- Opportunity counts and amounts per day × department × channel × account grade, each on the day of the date it is
-- about: created, won and closed on their days; the open pipeline as opens (on the created day) and settlements
-- (on the closing day), so the pipeline open at the end of any day is the running sum of opens minus settlements
-- before it. The Overview's tiles sum these over their windows instead of scanning every opportunity; its size
-- follows days × departments × channels × grades, not the number of opportunities.
with opportunities as (

    select
        opportunities.department_id,
        opportunities.channel,
        accounts.grade,
        opportunities.created_at,
        opportunities.closed_at,
        opportunities.is_closed,
        opportunities.is_won,
        opportunities.amount
    from {{ ref('fct_opportunities') }} as opportunities
    left join {{ ref('dim_account') }} as accounts
        on accounts.account_id = opportunities.account_id

),

created as (

    select
        cast(created_at as date) as day, department_id, channel, grade,
        1 as created,
        0 as won_deals, cast(null as decimal(18, 2)) as won_revenue, 0 as closed_deals,
        -- open from its created day; a deal without a created time is never open
        1 as opened_deals, amount as opened_amount,
        0 as settled_deals, cast(null as decimal(18, 2)) as settled_amount
    from opportunities
    where created_at is not null

),

closed as (

    select
        cast(closed_at as date) as day, department_id, channel, grade,
        0 as created,
        case when is_won then 1 else 0 end as won_deals,
        case when is_won then amount end as won_revenue,
        case when is_closed then 1 else 0 end as closed_deals,
        0 as opened_deals, cast(null as decimal(18, 2)) as opened_amount,
        0 as settled_deals, cast(null as decimal(18, 2)) as settled_amount
    from opportunities
    where closed_at is not null

),

-- Open at the end of day d means created before d + 1 and not closed before d + 1: it leaves the pipeline on its
-- closing day, or on its created day when the export dates the close earlier (so it was never open).
settled as (

    select
        greatest(cast(created_at as date), cast(closed_at as date)) as day, department_id, channel, grade,
        0 as created,
        0 as won_deals, cast(null as decimal(18, 2)) as won_revenue, 0 as closed_deals,
        0 as opened_deals, cast(null as decimal(18, 2)) as opened_amount,
        1 as settled_deals, amount as settled_amount
    from opportunities
    where created_at is not null and closed_at is not null

),

counted as (

    select * from created
    union all
    select * from closed
    union all
    select * from settled

),

final as (

    select
        day,
        department_id,
        channel,
        grade,
        cast(sum(created) as bigint) as created,
        cast(sum(won_deals) as bigint) as won_deals,
        cast(sum(won_revenue) as decimal(38, 2)) as won_revenue,
        cast(sum(closed_deals) as bigint) as closed_deals,
        cast(sum(opened_deals) as bigint) as opened_deals,
        cast(sum(opened_amount) as decimal(38, 2)) as opened_amount,
        cast(sum(settled_deals) as bigint) as settled_deals,
        cast(sum(settled_amount) as decimal(38, 2)) as settled_amount
    from counted
    group by day, department_id, channel, grade

)

select * from final
