-- The sales methodology as a dimension: the seed `stages`, plus where each stage sits in the funnel.
with stages as (

    select * from {{ ref('stages') }}

),

open_stages as (

    select
        stage_name,
        lead(stage_name) over (order by stage_order) as next_open_stage_name,
        row_number() over (order by stage_order) as funnel_position
    from stages
    where not is_closed

),

-- After the last open stage a deal moves on by being won.
first_won_stage as (

    select stage_name
    from stages
    where is_closed and is_won
    order by stage_order
    limit 1

),

final as (

    select
        stages.stage_name,
        cast(stages.stage_order as integer) as stage_order,
        stages.label_en,
        cast(stages.probability as double) as probability,
        stages.control_point,
        stages.key_activities,
        stages.exit_criteria,
        stages.roles,
        stages.is_closed,
        stages.is_won,
        not stages.is_closed as is_funnel_stage,
        cast(open_stages.funnel_position as integer) as funnel_position,
        case
            when not stages.is_closed then coalesce(open_stages.next_open_stage_name, first_won_stage.stage_name)
        end as next_stage_name
    from stages
    left join open_stages
        on stages.stage_name = open_stages.stage_name
    left join first_won_stage
        on true

)

select * from final
