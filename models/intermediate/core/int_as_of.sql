-- The instant every "to date" figure is measured at: the `as_of` var, else the latest timestamp in the data.
-- Marts read this instead of current_date, so the same data always gives the same numbers.
with latest as (

    select max(event_at) as latest_at from (
        select max(created_at) as event_at from {{ ref('stg_crm__leads') }}
        union all select max(event_at) from {{ ref('stg_crm__lead_events') }}
        union all select max(event_at) from {{ ref('stg_crm__ownership_events') }}
        union all select max(created_at) from {{ ref('stg_crm__opportunities') }}
        union all select max(entered_at) from {{ ref('stg_crm__opportunity_stage_history') }}
        union all select max(activity_at) from {{ ref('stg_crm__activities') }}
        union all select max(touched_at) from {{ ref('stg_campaign__touches') }}
        union all select max(cast(order_date as timestamp)) from {{ ref('stg_service__orders') }}
        union all select max(greatest(opened_at, coalesce(resolved_at, opened_at))) from {{ ref('stg_service__tickets') }}
    )

),

final as (

    select
        -- clamped to the plausible dates, as every spine that ends at it is (macros/date_spine.sql)
        {% if var('as_of') %}
        {{ plausible_timestamp(cl_string_literal(var("as_of"))) }} as as_of_at,
        {% else %}
        {{ plausible_timestamp('latest_at') }} as as_of_at,
        {% endif %}
        cast(as_of_at as date) as as_of_date,
        cast(date_trunc('month', as_of_at) as date) as as_of_month
    from latest

)

select * from final
