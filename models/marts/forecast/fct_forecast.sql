-- The forecast of every deal open at the as-of instant (docs/metrics.md#forecast-win-probability). Probabilities come from
-- int_forecast__deal_probabilities (survival estimate per stage, closedloop.forecast); this mart names them.
with deals as (

    select * from {{ ref('int_forecast__deal_probabilities') }}
    where is_current

),

final as (

    select
        as_of_at as as_of,
        opportunity_id,
        department_id,
        stage_name,
        stage_order,
        entered_stage_at,
        days_in_stage,
        amount,
        p_win,
        p_win_quarter as p_win_in_period,
        p_win_month,
        p_win_quarter,
        p_win_half_year,
        cast(date_trunc('month', expected_close_at) as date) as expected_close_month,
        amount * p_win as expected_amount,
        amount * p_win_quarter as expected_amount_in_period,
        estimate_level,
        estimate_cases,
        p_stage_seed
    from deals

)

select * from final
