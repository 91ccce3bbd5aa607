-- Which lead each opportunity came from. The link is written on both sides of the CRM
-- (opportunities.source_lead_id and leads.converted_opportunity_id) and either side may be missing,
-- so both are read. One row per opportunity: revenue is attributed to one lead (and so to one
-- campaign) only, never twice.
with leads as (

    select lead_id, converted_opportunity_id
    from {{ ref('stg_crm__leads') }}

),

opportunities as (

    select opportunity_id, source_lead_id, created_at, amount, opportunity_type, is_closed, is_won
    from {{ ref('stg_crm__opportunities') }}

),

-- leads.converted_opportunity_id seen from the opportunity's side; when several leads claim the
-- same opportunity the first lead id wins, so the result does not depend on file order.
claimed_by_lead as (

    select converted_opportunity_id as opportunity_id, min(lead_id) as lead_id
    from leads
    where converted_opportunity_id is not null
    group by converted_opportunity_id

),

linked as (

    select
        opportunities.opportunity_id,
        -- the opportunity's own source_lead_id is the primary record; the lead's pointer fills gaps
        coalesce(source_leads.lead_id, claimed_by_lead.lead_id) as lead_id,
        case
            when source_leads.lead_id is not null then 'opportunity_source_lead_id'
            else 'lead_converted_opportunity_id'
        end as link_source,
        opportunities.created_at as opportunity_created_at,
        opportunities.amount,
        opportunities.opportunity_type,
        coalesce(opportunities.is_closed, false) as is_closed,
        coalesce(opportunities.is_won, false) as is_won
    from opportunities
    -- a source_lead_id pointing at no known lead cannot be attributed
    left join leads as source_leads
        on opportunities.source_lead_id = source_leads.lead_id
    left join claimed_by_lead
        on opportunities.opportunity_id = claimed_by_lead.opportunity_id

),

final as (

    select
        linked.opportunity_id,
        linked.lead_id,
        link_source,
        opportunity_created_at,
        amount,
        opportunity_type,
        is_closed,
        is_won,
        -- the lead's "own" opportunity: the one its record points to, else its earliest
        row_number() over (
            partition by linked.lead_id
            order by
                case when linked.opportunity_id = leads.converted_opportunity_id then 0 else 1 end,
                linked.opportunity_created_at,
                linked.opportunity_id
        ) = 1 as is_primary_for_lead
    from linked
    inner join leads
        on linked.lead_id = leads.lead_id

)

select * from final
