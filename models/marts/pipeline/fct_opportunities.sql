-- One row per opportunity: what it is, where it came from, how far it got and how it ended.
-- Incremental (config in the model YAML): the change sets it reads its affected keys from.
-- depends_on: {{ ref('int_incremental__changed_opportunities') }}
-- depends_on: {{ ref('int_incremental__record_versions') }}
-- depends_on: {{ ref('int_incremental__watermarks') }}
with opportunities as (

    select
        opportunity_id,
        account_id,
        opportunity_name,
        opportunity_type,
        amount,
        stage as current_stage,
        source_lead_id,
        loss_reason
    from {{ ref('stg_crm__opportunities') }}
    -- an incremental build recomputes the changed opportunities, those whose lead changed, and the open ones
    where {{ incremental_only('opportunity_id', 'incremental_changed_opportunity_facts') }}

),

outcomes as (

    select * from {{ ref('int_opportunity_outcomes') }}
    where {{ incremental_only('opportunity_id', 'incremental_changed_opportunity_facts') }}

),

open_stages as (

    select stage_name, stage_order from {{ ref('stages') }} where not is_closed

),

stage_summary as (

    select
        opportunity_id,
        count(*) as stages_reached,
        count(case when is_inferred then 1 end) as stages_inferred
    from {{ ref('int_opportunity_stages_reached') }}
    where {{ incremental_only('opportunity_id', 'incremental_changed_opportunity_facts') }}
    group by opportunity_id

),

-- The lead an opportunity came from is resolved once, in int_lead_opportunities (its own source_lead_id,
-- else the lead whose converted_opportunity_id points to it), so channel and campaign here agree with the
-- campaign ROI mart.
lead_links as (

    select opportunity_id, lead_id, link_source
    from {{ ref('int_lead_opportunities') }}

),

leads as (

    select lead_id, channel, campaign_id
    from {{ ref('stg_crm__leads') }}

),

as_of as (

    select as_of_at from {{ ref('int_as_of') }}

),

final as (

    select
        opportunities.opportunity_id,
        opportunities.account_id,
        outcomes.owner_user_id,
        outcomes.department_id,
        opportunities.opportunity_type,
        opportunities.amount,
        outcomes.created_at,
        outcomes.closed_at,
        outcomes.is_closed,
        outcomes.is_won,
        case when outcomes.is_closed then {{ pipeline_days_between('outcomes.created_at', 'outcomes.closed_at') }} end
            as cycle_days,
        open_stages.stage_name as furthest_stage_name,
        coalesce(lead_links.lead_id, opportunities.source_lead_id) as source_lead_id,
        leads.channel,
        leads.campaign_id,
        -- Win rate denominator (docs/metrics.md#win-rate: won / (won + lost) among deals closed in the period).
        outcomes.is_closed as is_win_rate_calc,
        outcomes.status,
        opportunities.opportunity_name,
        opportunities.current_stage,
        opportunities.loss_reason,
        cast(outcomes.furthest_reached_order as integer) as furthest_stage_order,
        cast(coalesce(stage_summary.stages_reached, 0) as integer) as stages_reached,
        cast(coalesce(stage_summary.stages_inferred, 0) as integer) as stages_inferred,
        outcomes.closed_at_source,
        lead_links.link_source as source_lead_link,
        cast(date_trunc('month', outcomes.created_at) as date) as created_month,
        cast(date_trunc('month', outcomes.closed_at) as date) as closed_month,
        case when not outcomes.is_closed then {{ pipeline_days_between('outcomes.created_at', 'as_of.as_of_at') }} end
            as open_age_days,
        case when outcomes.is_won then opportunities.amount end as won_amount
    from opportunities
    inner join outcomes
        on opportunities.opportunity_id = outcomes.opportunity_id
    cross join as_of
    left join open_stages
        on outcomes.furthest_reached_order = open_stages.stage_order
    left join stage_summary
        on opportunities.opportunity_id = stage_summary.opportunity_id
    left join lead_links
        on opportunities.opportunity_id = lead_links.opportunity_id
    left join leads
        on lead_links.lead_id = leads.lead_id

)

select * from final
