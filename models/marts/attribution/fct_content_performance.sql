-- Content x month (docs/metrics.md#content-performance): how a content item reaches people, appears on converting
-- paths and earns credit. Month = business month of the touch. A conversion is influenced by a content when a touch
-- of the content is on its path; it counts once per content, in the month of the content's first touch on that
-- path, so months add up. Credit (per model, a column each) counts in the month of the credited touch.
with touches as (

    select
        content_id,
        cast({{ dbt.date_trunc('month', 'touched_at') }} as date) as month,
        person_id
    from {{ ref('fct_touches') }}
    where content_id is not null

),

reach as (

    select
        content_id,
        month,
        count(*) as touches,
        count(distinct person_id) as persons_reached
    from touches
    group by content_id, month

),

journeys as (

    select conversion_type, journey_id, revenue
    from {{ ref('int_attribution__journeys') }}
    where is_converted

),

-- each converting path a content is on, dated at the content's first touch on it
influence as (

    select
        path_touches.content_id,
        path_touches.conversion_type,
        path_touches.journey_id,
        cast({{ dbt.date_trunc('month', 'min(path_touches.touched_at)') }} as date) as month
    from {{ ref('int_attribution__path_touches') }} as path_touches
    where path_touches.is_converted and path_touches.content_id is not null
    group by path_touches.content_id, path_touches.conversion_type, path_touches.journey_id

),

influenced as (

    select
        influence.content_id,
        influence.month,
        count(case when influence.conversion_type = 'lead' then 1 end) as leads_influenced,
        count(case when influence.conversion_type = 'opportunity' then 1 end) as opportunities_influenced,
        count(case when influence.conversion_type = 'won' then 1 end) as wins_influenced,
        sum(case when influence.conversion_type = 'won' then journeys.revenue end) as revenue_influenced
    from influence
    inner join journeys
        on influence.conversion_type = journeys.conversion_type
        and influence.journey_id = journeys.journey_id
    group by influence.content_id, influence.month

),

credited as (

    select
        content_id,
        cast({{ dbt.date_trunc('month', 'touched_at') }} as date) as month,
        {%- for model in attribution_models() %}
        sum(case when conversion_type = 'opportunity' and model = '{{ model }}' then credit end)
            as credited_opportunities_{{ model }},
        sum(case when conversion_type = 'won' and model = '{{ model }}' then revenue_credit end)
            as credited_revenue_{{ model }}{% if not loop.last %},{% endif %}
        {%- endfor %}
    from {{ ref('fct_attribution') }}
    where content_id is not null
    group by 1, 2

),

content_months as (

    select content_id, month from reach
    union
    select content_id, month from influenced
    union
    select content_id, month from credited

),

contents as (

    select content_id, title, content_type, campaign_id
    from {{ ref('stg_campaign__contents') }}

),

final as (

    select
        content_months.month,
        cast(content_months.content_id as {{ dbt.type_string() }}) as content_id,
        cast(contents.title as {{ dbt.type_string() }}) as title,
        cast(contents.content_type as {{ dbt.type_string() }}) as content_type,
        cast(contents.campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(coalesce(reach.touches, 0) as bigint) as touches,
        cast(coalesce(reach.persons_reached, 0) as bigint) as persons_reached,
        cast(coalesce(influenced.leads_influenced, 0) as bigint) as leads_influenced,
        cast(coalesce(influenced.opportunities_influenced, 0) as bigint) as opportunities_influenced,
        cast(coalesce(influenced.wins_influenced, 0) as bigint) as wins_influenced,
        cast(coalesce(influenced.revenue_influenced, 0) as decimal(18, 2)) as revenue_influenced,
        {%- for model in attribution_models() %}
        cast(coalesce(credited.credited_opportunities_{{ model }}, 0) as double)
            as credited_opportunities_{{ model }},
        cast(coalesce(credited.credited_revenue_{{ model }}, 0) as double) as credited_revenue_{{ model }}
        {%- if not loop.last %},{% endif %}
        {%- endfor %}
    from content_months
    left join contents
        on content_months.content_id = contents.content_id
    left join reach
        on content_months.content_id = reach.content_id
        and content_months.month = reach.month
    left join influenced
        on content_months.content_id = influenced.content_id
        and content_months.month = influenced.month
    left join credited
        on content_months.content_id = credited.content_id
        and content_months.month = credited.month

)

select * from final
