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

    {{ date_spine('(select start_date from bounds)', '(select end_date from bounds)') }}

),

parts as (

    select
        date_day,
        cast(year(date_day) as integer) as year,
        cast(quarter(date_day) as integer) as quarter,
        cast(month(date_day) as integer) as month,
        cast(day(date_day) as integer) as day_of_month,
        cast(isodow(date_day) as integer) as day_of_week,
        cast(date_trunc('month', date_day) as date) as month_start,
        cast(date_trunc('quarter', date_day) as date) as quarter_start,
        cast(date_trunc('year', date_day) as date) as year_start,
        -- date_trunc('week') is ISO: weeks start on Monday
        cast(date_trunc('week', date_day) as date) as week_start,
        cast(isoyear(date_day) as integer) as iso_year,
        cast(week(date_day) as integer) as iso_week,
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
        fiscal_month_index // 3 + 1 as fiscal_quarter,
        fiscal_month_index + 1 as fiscal_month,
        cast(month_start - to_months(fiscal_month_index) as date) as fiscal_year_start,
        strftime(date_day, '%Y-%m-%d') as date_label_en,
        format('{}年{}月{}日', year, month, day_of_month) as date_label_zh,
        strftime(date_day, '%A') as day_name_en,
        ['星期一', '星期二', '星期三', '星期四', '星期五', '星期六', '星期日'][day_of_week] as day_name_zh,
        strftime(date_day, '%b %Y') as month_label_en,
        format('{}年{}月', year, month) as month_label_zh,
        format('{} Q{}', year, quarter) as quarter_label_en,
        format('{}年第{}季度', year, quarter) as quarter_label_zh,
        format('FY{} Q{}', fiscal_year, fiscal_month_index // 3 + 1) as fiscal_quarter_label_en,
        format('{}财年第{}季度', fiscal_year, fiscal_month_index // 3 + 1) as fiscal_quarter_label_zh,
        strftime(week_start, 'Week of %Y-%m-%d') as week_label_en,
        format('{}年第{}周', iso_year, iso_week) as week_label_zh
    from parts

)

select * from final
