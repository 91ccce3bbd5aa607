-- One row per past month end x open deal x method: the probability each method gave the deal then and whether it
-- was won within the backtest horizon (docs/metrics.md#forecast-backtest). model = the survival estimate's
-- P(won within the horizon); stage_seed = the stages seed's probability (0–1); closed_only = won / closed per stage
-- among deals closed by then.
with deals as (

    select * from {{ ref('int_forecast__deal_probabilities') }}
    where not is_current

),

methods as (

    select as_of_at, opportunity_id, department_id, amount, is_won_within_horizon,
           'model' as method, p_win_horizon as probability
    from deals
    union all
    select as_of_at, opportunity_id, department_id, amount, is_won_within_horizon,
           'stage_seed' as method, p_stage_seed as probability
    from deals
    union all
    select as_of_at, opportunity_id, department_id, amount, is_won_within_horizon,
           'closed_only' as method, p_closed_only as probability
    from deals

),

final as (

    select
        as_of_at,
        opportunity_id,
        department_id,
        amount,
        method,
        probability,
        case when is_won_within_horizon then {{ cl_double_literal('1.0') }} else {{ cl_double_literal('0.0') }} end as outcome,
        -- bins of width 0.1; a probability of exactly 1 falls in the last
        least(cast(floor(probability * 10) as integer) + 1, 10) as bin
    from methods
    where probability is not null

)

select * from final
