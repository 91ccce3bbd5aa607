-- The stages seed's probability on one scale, 0–1, converted once here: CRM exports (Salesforce) write it 0–100.
-- The seed is read as 0–100 when any probability exceeds 1 (a seed mixing both scales is not supported).
with stages as (

    select * from {{ ref('stages') }}

),

seed_scale as (

    select case when max(probability) > 1 then {{ cl_double_literal('100.0') }} else {{ cl_double_literal('1.0') }} end as divisor
    from stages

),

final as (

    select
        stages.stage_name,
        cast(stages.stage_order as integer) as stage_order,
        stages.is_closed,
        stages.is_won,
        cast(stages.probability as double) as probability_as_written,
        cast(stages.probability as double) / seed_scale.divisor as win_probability
    from stages
    cross join seed_scale

)

select * from final
