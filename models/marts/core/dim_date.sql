-- The calendar every dated fact joins to: one row per day from the earliest business date found in the data
-- to as_of_date, so charts never show days the data cannot speak for.
with as_of as (

    select as_of_date from {{ ref('int_as_of') }}

),

-- min() per table is a cheap aggregate even over the large logs; hire dates are left out on purpose
-- (a veteran hired in 1998 would stretch the calendar across decades with no facts).
earliest_dates as (

    select min(cast(created_at as date)) as first_date from {{ ref('stg_crm__leads') }}
    union all select min(cast(event_at as date)) from {{ ref('stg_crm__lead_events') }}
    union all select min(cast(event_at as date)) from {{ ref('stg_crm__ownership_events') }}
    union all select min(cast(created_at as date)) from {{ ref('stg_crm__accounts') }}
    union all select min(cast(created_at as date)) from {{ ref('stg_crm__opportunities') }}
    union all select min(cast(entered_at as date)) from {{ ref('stg_crm__opportunity_stage_history') }}
    union all select min(cast(activity_at as date)) from {{ ref('stg_crm__activities') }}
    union all select min(cast(touched_at as date)) from {{ ref('stg_campaign__touches') }}
    union all select min(spend_date) from {{ ref('stg_campaign__campaign_spend') }}
    union all select min(least(order_date, coalesce(subscription_start, order_date))) from {{ ref('stg_service__orders') }}
    union all select min(cast(opened_at as date)) from {{ ref('stg_service__tickets') }}

),

bounds as (

    select
        -- with no dated rows at all the calendar is the as-of day alone, never empty
        least(coalesce(min(earliest_dates.first_date), as_of.as_of_date), as_of.as_of_date) as start_date,
        as_of.as_of_date as end_date
    from earliest_dates
    cross join as_of
    group by as_of.as_of_date

),

spine as (

    {{ date_spine('start_date', 'end_date', 'bounds') }}

),

parts as (

    select
        date_day,
        cast(year(date_day) as integer) as year,
        cast(quarter(date_day) as integer) as quarter,
        cast(month(date_day) as integer) as month,
        cast(day(date_day) as integer) as day_of_month,
        cast({{ cl_iso_day_of_week('date_day') }} as integer) as day_of_week,
        cast(date_trunc('month', date_day) as date) as month_start,
        cast(date_trunc('quarter', date_day) as date) as quarter_start,
        cast(date_trunc('year', date_day) as date) as year_start,
        -- date_trunc('week') is ISO: weeks start on Monday
        cast(date_trunc('week', date_day) as date) as week_start,
        cast({{ cl_iso_year('date_day') }} as integer) as iso_year,
        cast({{ cl_iso_week('date_day') }} as integer) as iso_week,
        -- months since the fiscal year began: 0 in its first month
        cast((month(date_day) - {{ var('fiscal_year_start_month') }} + 12) % 12 as integer) as fiscal_month_index,
        -- a fiscal year is named after the calendar year it ends in (start month 4: Apr 2026–Mar 2027 is FY2027);
        -- with the default start month 1 it is the calendar year
        cast(year(date_day) + case when {{ var('fiscal_year_start_month') }} > 1
                               and month(date_day) >= {{ var('fiscal_year_start_month') }} then 1 else 0 end as integer) as fiscal_year
    from spine

),

final as (

    select
        date_day,
        year,
        quarter,
        month,
        day_of_month,
        day_of_week,
        day_of_week >= 6 as is_weekend,
        week_start,
        month_start,
        quarter_start,
        year_start,
        iso_year,
        iso_week,
        fiscal_year,
        {{ cl_int_div('fiscal_month_index', 3) }} + 1 as fiscal_quarter,
        fiscal_month_index + 1 as fiscal_month,
        {{ cl_add_months('month_start', '-fiscal_month_index') }} as fiscal_year_start,
        {{ cl_format_date('date_day', '%Y-%m-%d') }} as date_label_en,
        {{ cl_format('{}年{}月{}日', ['year', 'month', 'day_of_month']) }} as date_label_zh,
        {{ cl_format_date('date_day', '%A') }} as day_name_en,
        case day_of_week when 1 then '星期一' when 2 then '星期二' when 3 then '星期三' when 4 then '星期四' when 5 then '星期五'
            when 6 then '星期六' when 7 then '星期日' end as day_name_zh,
        {{ cl_format_date('date_day', '%b %Y') }} as month_label_en,
        {{ cl_format('{}年{}月', ['year', 'month']) }} as month_label_zh,
        {{ cl_format('{} Q{}', ['year', 'quarter']) }} as quarter_label_en,
        {{ cl_format('{}年第{}季度', ['year', 'quarter']) }} as quarter_label_zh,
        {{ cl_format('FY{} Q{}', ['fiscal_year', cl_int_div('fiscal_month_index', 3) ~ ' + 1']) }} as fiscal_quarter_label_en,
        {{ cl_format('{}财年第{}季度', ['fiscal_year', cl_int_div('fiscal_month_index', 3) ~ ' + 1']) }} as fiscal_quarter_label_zh,
        {{ cl_format_date('week_start', 'Week of %Y-%m-%d') }} as week_label_en,
        {{ cl_format('{}年第{}周', ['iso_year', 'iso_week']) }} as week_label_zh
    from parts

)

select * from final
