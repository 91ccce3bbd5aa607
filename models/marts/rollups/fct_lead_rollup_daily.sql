-- Lead counts per day × department × channel, each on the day of the date it is about: the leads created that day
-- with what that cohort reached so far, the leads that became MQL that day, the leads first released to the pool
-- that day with what became of them. The pages sum these over their windows instead of scanning every lead; its
-- size follows days × departments × channels, not the number of leads. Leads whose opportunity was won are kept apart
-- by the department of that opportunity (won_department_id), so a department head's view counts only the wins
-- of deals in their departments, as the facts' own scoped views do (dashboards/queries.py SCOPED_RELATIONS).
with leads as (

    select
        lead_id,
        department_id,
        channel,
        opportunity_id,
        created_at,
        mql_at,
        first_released_at,
        is_mql,
        is_sql,
        is_converted,
        is_duplicate,
        is_recovered,
        final_status
    from {{ ref('fct_leads') }}

),

won_opportunities as (

    select opportunity_id, department_id from {{ ref('fct_opportunities') }} where is_won

),

created as (

    select
        cast(leads.created_at as date) as day,
        leads.department_id,
        leads.channel,
        won_opportunities.department_id as won_department_id,
        1 as created,
        case when leads.is_mql then 1 else 0 end as created_mql,
        case when leads.is_sql then 1 else 0 end as created_sql,
        case when leads.is_converted then 1 else 0 end as created_converted,
        case when won_opportunities.opportunity_id is not null then 1 else 0 end as created_won,
        case when leads.is_duplicate then 1 else 0 end as created_duplicates,
        0 as mql,
        0 as released,
        0 as released_recovered,
        0 as released_open,
        0 as released_disqualified
    from leads
    left join won_opportunities
        on won_opportunities.opportunity_id = leads.opportunity_id
    where leads.created_at is not null

),

became_mql as (

    select
        cast(mql_at as date) as day, department_id, channel, cast(null as string) as won_department_id,
        0 as created, 0 as created_mql, 0 as created_sql, 0 as created_converted, 0 as created_won,
        0 as created_duplicates,
        1 as mql,
        0 as released, 0 as released_recovered, 0 as released_open, 0 as released_disqualified
    from leads
    where mql_at is not null

),

released as (

    select
        cast(first_released_at as date) as day, department_id, channel, cast(null as string) as won_department_id,
        0 as created, 0 as created_mql, 0 as created_sql, 0 as created_converted, 0 as created_won,
        0 as created_duplicates,
        0 as mql,
        1 as released,
        case when is_recovered then 1 else 0 end as released_recovered,
        case when final_status = 'open' then 1 else 0 end as released_open,
        case when final_status = 'disqualified' then 1 else 0 end as released_disqualified
    from leads
    where first_released_at is not null

),

counted as (

    select * from created
    union all
    select * from became_mql
    union all
    select * from released

),

final as (

    select
        day,
        department_id,
        channel,
        won_department_id,
        cast(sum(created) as bigint) as created,
        cast(sum(created_mql) as bigint) as created_mql,
        cast(sum(created_sql) as bigint) as created_sql,
        cast(sum(created_converted) as bigint) as created_converted,
        cast(sum(created_won) as bigint) as created_won,
        cast(sum(created_duplicates) as bigint) as created_duplicates,
        cast(sum(mql) as bigint) as mql,
        cast(sum(released) as bigint) as released,
        cast(sum(released_recovered) as bigint) as released_recovered,
        cast(sum(released_open) as bigint) as released_open,
        cast(sum(released_disqualified) as bigint) as released_disqualified
    from counted
    group by day, department_id, channel, won_department_id

)

select * from final
