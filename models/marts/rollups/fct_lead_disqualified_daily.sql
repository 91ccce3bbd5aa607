-- Leads disqualified per day × department × channel × reason: what the Lead flow page's feedback reasons sum
-- instead of scanning every lead. Its size follows days × departments × channels × reasons, not the number of leads.
with disqualified as (

    select
        cast(disqualified_at as date) as day,
        department_id,
        channel,
        disqualify_reason
    from {{ ref('fct_leads') }}
    where disqualified_at is not null and disqualify_reason is not null

),

final as (

    select day, department_id, channel, disqualify_reason, cast(count(*) as bigint) as leads
    from disqualified
    group by day, department_id, channel, disqualify_reason

)

select * from final
