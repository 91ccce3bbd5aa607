-- Each department's rate against the rest of the company and against its own previous period, per period
-- grain (month, quarter, half_year) and metric: every stage step's conversion, and the win rate.
-- Stage steps are re-added from fct_stage_conversion (same cohort rule: month of first entry into the stage,
-- department at entry), and the win rate from fct_opportunities, so the marts cannot disagree.
{%- set grains = ['month', 'quarter', 'half_year'] %}

with stage_steps as (

    select stage_name, stage_order, label_en, next_stage_name
    from {{ ref('dim_stage') }}
    where is_funnel_stage

),

stage_labels as (

    select stage_name, label_en from {{ ref('dim_stage') }}

),

stage_cases as (

    select
        cohort_month as month,
        department_id,
        is_all_departments,
        'stage_conversion' as metric,
        stage_name,
        advanced as numerator,
        decided as denominator
    from {{ ref('fct_stage_conversion') }}

),

-- docs/metrics.md#win-rate = won / (won + lost) among opportunities closed in the period; department = the
-- current owner's. An owner without a department counts in the company only.
win_cases as (

    select
        closed_month as month,
        department_id,
        grouping(department_id) = 1 as is_all_departments,
        'win_rate' as metric,
        cast(null as string) as stage_name,
        count(case when is_won then 1 end) as numerator,
        count(*) as denominator
    from {{ ref('fct_opportunities') }}
    where is_win_rate_calc
    group by grouping sets ((closed_month, department_id), (closed_month))

),

monthly_cases as (

    select * from stage_cases
    union all
    select * from win_cases
    where is_all_departments or department_id is not null

),

period_cases as (
    {%- for grain in grains %}

    select
        '{{ grain }}' as period_grain,
        {{ pipeline_period_start(grain, 'month') }} as period_start,
        department_id,
        is_all_departments,
        metric,
        stage_name,
        cast(sum(numerator) as bigint) as numerator,
        cast(sum(denominator) as bigint) as denominator
    from monthly_cases
    group by 1, 2, 3, 4, 5, 6
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}

),

company as (

    select * from period_cases where is_all_departments

),

compared as (

    select
        period_cases.period_grain,
        period_cases.period_start,
        period_cases.department_id,
        period_cases.is_all_departments,
        period_cases.metric,
        period_cases.stage_name,
        period_cases.numerator,
        period_cases.denominator,
        company.numerator as company_numerator,
        company.denominator as company_denominator,
        -- The rest of the company is the company total without this department (null on company rows):
        -- comparing against a total that contains the department itself would understate any difference.
        case when not period_cases.is_all_departments
            then coalesce(company.numerator, 0) - period_cases.numerator end as rest_numerator,
        case when not period_cases.is_all_departments
            then coalesce(company.denominator, 0) - period_cases.denominator end as rest_denominator
    from period_cases
    left join company
        on period_cases.period_grain = company.period_grain
       and period_cases.period_start = company.period_start
       and period_cases.metric = company.metric
       and coalesce(period_cases.stage_name, '') = coalesce(company.stage_name, '')

),

with_previous as (

    select
        compared.*,
        case compared.period_grain
            {%- for grain in grains %}
            when '{{ grain }}' then cast(compared.period_start - interval '{{ pipeline_period_months(grain) }} month' as date)
            {%- endfor %}
        end as previous_period_start
    from compared

),

joined as (

    select
        with_previous.*,
        coalesce(previous.numerator, 0) as previous_numerator,
        coalesce(previous.denominator, 0) as previous_denominator
    from with_previous
    left join period_cases as previous
        on with_previous.period_grain = previous.period_grain
       and with_previous.previous_period_start = previous.period_start
       and with_previous.is_all_departments = previous.is_all_departments
       and coalesce(with_previous.department_id, '') = coalesce(previous.department_id, '')
       and with_previous.metric = previous.metric
       and coalesce(with_previous.stage_name, '') = coalesce(previous.stage_name, '')

),

as_of as (

    select as_of_date from {{ ref('int_as_of') }}

),

bounded as (

    select
        joined.*,
        case joined.period_grain
            {%- for grain in grains %}
            when '{{ grain }}' then cast(joined.period_start + interval '{{ pipeline_period_months(grain) }} month' - interval '1 day' as date)
            {%- endfor %}
        end as period_end,
        {{ safe_ratio('joined.numerator', 'joined.denominator') }} as rate,
        {{ safe_ratio('joined.rest_numerator', 'joined.rest_denominator') }} as rest_rate,
        {{ safe_ratio('joined.company_numerator', 'joined.company_denominator') }} as company_rate,
        {{ safe_ratio('joined.previous_numerator', 'joined.previous_denominator') }} as previous_rate
    from joined

),

final as (

    select
        bounded.period_grain,
        bounded.period_start,
        bounded.period_end,
        -- A period still running at the as-of instant: its rates will move, the meeting page says so.
        as_of.as_of_date > bounded.period_end as is_complete_period,
        bounded.department_id,
        bounded.is_all_departments,
        bounded.metric,
        bounded.stage_name,
        cast(stage_steps.stage_order as integer) as stage_order,
        stage_steps.next_stage_name,
        case
            when bounded.metric = 'win_rate' then '赢率'
            else bounded.stage_name || ' → ' || stage_steps.next_stage_name
        end as metric_label,
        case
            when bounded.metric = 'win_rate' then 'Win rate'
            else stage_steps.label_en || ' → ' || next_steps.label_en
        end as metric_label_en,
        bounded.numerator,
        bounded.denominator,
        bounded.rate,
        {{ wilson_low('bounded.numerator', 'bounded.denominator') }} as ci_low,
        {{ wilson_high('bounded.numerator', 'bounded.denominator') }} as ci_high,
        bounded.rest_numerator,
        bounded.rest_denominator,
        bounded.rest_rate,
        bounded.company_numerator,
        bounded.company_denominator,
        bounded.company_rate,
        bounded.rate - bounded.company_rate as difference,
        bounded.rate - bounded.rest_rate as difference_vs_rest,
        -- Tested against the rest of the company; company rows have nothing to be compared with.
        case when not bounded.is_all_departments then
            {{ two_proportion_z('bounded.numerator', 'bounded.denominator', 'bounded.rest_numerator', 'bounded.rest_denominator') }}
        end as z,
        case when not bounded.is_all_departments then
            {{ significance_flag('bounded.numerator', 'bounded.denominator', 'bounded.rest_numerator', 'bounded.rest_denominator') }}
        end as significance,
        bounded.previous_period_start,
        bounded.previous_numerator,
        bounded.previous_denominator,
        bounded.previous_rate,
        bounded.rate - bounded.previous_rate as change,
        {{ two_proportion_z('bounded.numerator', 'bounded.denominator', 'bounded.previous_numerator', 'bounded.previous_denominator') }}
            as change_z,
        {{ significance_flag('bounded.numerator', 'bounded.denominator', 'bounded.previous_numerator', 'bounded.previous_denominator') }}
            as change_significance
    from bounded
    cross join as_of
    left join stage_steps
        on bounded.stage_name = stage_steps.stage_name
    left join stage_labels as next_steps
        on stage_steps.next_stage_name = next_steps.stage_name

)

select * from final
