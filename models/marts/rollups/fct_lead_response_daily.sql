-- Leads per day of first assignment × department × channel × response-time band × SLA status: what the response
-- histogram, the SLA tiles and the SLA table by department sum over their windows instead of scanning every lead.
-- The bands are the var lead_response_band_hours (the dashboards read the same var for their labels).
{%- set bounds = var('lead_response_band_hours') %}
with leads as (

    select department_id, channel, first_assigned_at, response_hours, sla_status
    from {{ ref('fct_leads') }}
    where first_assigned_at is not null

),

banded as (

    select
        cast(first_assigned_at as date) as day,
        department_id,
        channel,
        -- index into the bounds: band i holds bounds[i] <= hours < bounds[i + 1], the last one everything above
        case
            when response_hours is null then null
            {%- for upper in bounds[1:] %}
            when response_hours < {{ upper }} then {{ loop.index0 }}
            {%- endfor %}
            else {{ bounds | length - 1 }}
        end as response_band,
        sla_status
    from leads

),

final as (

    select
        day,
        department_id,
        channel,
        cast(response_band as integer) as response_band,
        sla_status,
        cast(count(*) as bigint) as leads
    from banded
    group by day, department_id, channel, response_band, sla_status

)

select * from final
