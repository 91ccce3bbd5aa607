-- Month × campaign return on spend under the default attribution (docs/metrics.md#campaign-roi): a lead
-- belongs to its own campaign (leads.campaign_id), an opportunity to the lead it came from.
-- Months: spend counts in the month of spend_date and touches in the month they happened; leads and
-- everything that follows from them (mql, sql, opportunities, won deals and revenue) count in the
-- month the lead was created (cohort attribution), so a campaign's outcome stays with the month that
-- paid for it. Ratios are null when their denominator is 0.
with campaigns as (

    select campaign_id, channel
    from {{ ref('dim_campaign') }}

),

spend_monthly as (

    select
        campaign_id,
        cast(date_trunc('month', spend_date) as date) as month,
        sum(spend) as spend,
        sum(impressions) as impressions,
        sum(clicks) as clicks
    from {{ ref('stg_campaign__campaign_spend') }}
    where campaign_id is not null
    group by 1, 2

),

touches_monthly as (

    select
        campaign_id,
        cast(date_trunc('month', touched_at) as date) as month,
        count(*) as touches
    from {{ ref('stg_campaign__touches') }}
    where campaign_id is not null
    group by 1, 2

),

campaign_leads as (

    select
        lead_id,
        campaign_id,
        cast(date_trunc('month', created_at) as date) as month,
        is_mql,
        is_sql,
        is_converted
    from {{ ref('fct_leads') }}
    where campaign_id is not null

),

leads_monthly as (

    select
        campaign_id,
        month,
        count(*) as leads,
        count(*) filter (where is_mql) as mql,
        count(*) filter (where is_sql) as sql,
        count(*) filter (where is_converted) as converted_leads
    from campaign_leads
    group by 1, 2

),

-- every opportunity linked to a campaign lead (one lead per opportunity, so no double counting)
opportunities_monthly as (

    select
        campaign_leads.campaign_id,
        campaign_leads.month,
        count(*) as opportunities,
        count(*) filter (where lead_opportunities.is_won) as won_deals,
        sum(lead_opportunities.amount) filter (where lead_opportunities.is_won) as won_revenue
    from {{ ref('int_lead_opportunities') }} as lead_opportunities
    inner join campaign_leads
        on lead_opportunities.lead_id = campaign_leads.lead_id
    group by 1, 2

),

campaign_months as (

    select campaign_id, month from spend_monthly
    union
    select campaign_id, month from touches_monthly
    union
    select campaign_id, month from leads_monthly

),

joined as (

    select
        campaign_months.month,
        campaign_months.campaign_id,
        campaigns.channel,
        coalesce(spend_monthly.spend, 0) as spend,
        coalesce(spend_monthly.impressions, 0) as impressions,
        coalesce(spend_monthly.clicks, 0) as clicks,
        coalesce(touches_monthly.touches, 0) as touches,
        coalesce(leads_monthly.leads, 0) as leads,
        coalesce(leads_monthly.mql, 0) as mql,
        coalesce(leads_monthly.sql, 0) as sql,
        coalesce(leads_monthly.converted_leads, 0) as converted_leads,
        coalesce(opportunities_monthly.opportunities, 0) as opportunities,
        coalesce(opportunities_monthly.won_deals, 0) as won_deals,
        coalesce(opportunities_monthly.won_revenue, 0) as won_revenue
    from campaign_months
    left join campaigns
        on campaign_months.campaign_id = campaigns.campaign_id
    left join spend_monthly
        on campaign_months.campaign_id = spend_monthly.campaign_id
        and campaign_months.month = spend_monthly.month
    left join touches_monthly
        on campaign_months.campaign_id = touches_monthly.campaign_id
        and campaign_months.month = touches_monthly.month
    left join leads_monthly
        on campaign_months.campaign_id = leads_monthly.campaign_id
        and campaign_months.month = leads_monthly.month
    left join opportunities_monthly
        on campaign_months.campaign_id = opportunities_monthly.campaign_id
        and campaign_months.month = opportunities_monthly.month

),

final as (

    select
        month,
        cast(campaign_id as string) as campaign_id,
        cast(channel as string) as channel,
        cast(spend as decimal(18, 2)) as spend,
        cast(impressions as bigint) as impressions,
        cast(clicks as bigint) as clicks,
        cast(touches as bigint) as touches,
        cast(leads as bigint) as leads,
        cast(mql as bigint) as mql,
        cast(sql as bigint) as sql,
        cast(converted_leads as bigint) as converted_leads,
        cast(opportunities as bigint) as opportunities,
        cast(won_deals as bigint) as won_deals,
        cast(won_revenue as decimal(18, 2)) as won_revenue,
        {{ safe_ratio('spend', 'leads') }} as cost_per_lead,
        {{ safe_ratio('spend', 'opportunities') }} as cost_per_opportunity,
        {{ safe_ratio('spend', 'won_deals') }} as cac,
        {{ safe_ratio('won_revenue - spend', 'spend') }} as roi
    from joined

)

select * from final
