-- Follow-ups per department × owner × reason × status, with what following them up earned: what the Follow-ups
-- page's tables by owner and by reason sum instead of joining every follow-up to its owner and its recovered
-- opportunity. Its size follows owners × reasons × statuses, not the number of follow-ups. Recovered opportunities
-- that were won are kept apart by their department (won_department_id), so a department head's view counts only
-- the wins of deals in their departments, as the facts' own scoped views do (dashboards/queries.py).
with followups as (

    select department_id, owner_user_id, reason, category, status, is_recovered, recovered_opportunity_id
    from {{ ref('fct_followups') }}

),

won_opportunities as (

    select opportunity_id, amount, department_id from {{ ref('fct_opportunities') }} where is_won

),

outcomes as (

    select
        followups.department_id,
        followups.owner_user_id,
        followups.reason,
        followups.category,
        followups.status,
        won_opportunities.department_id as won_department_id,
        case when followups.is_recovered then 1 else 0 end as recovered,
        case when won_opportunities.opportunity_id is not null then 1 else 0 end as recovered_won,
        won_opportunities.amount as recovered_revenue
    from followups
    left join won_opportunities
        on won_opportunities.opportunity_id = followups.recovered_opportunity_id

),

final as (

    select
        department_id,
        owner_user_id,
        reason,
        category,
        status,
        won_department_id,
        cast(count(*) as bigint) as followups,
        cast(sum(recovered) as bigint) as recovered,
        cast(sum(recovered_won) as bigint) as recovered_won,
        cast(sum(recovered_revenue) as decimal(38, 2)) as recovered_revenue
    from outcomes
    group by department_id, owner_user_id, reason, category, status, won_department_id

)

select * from final
