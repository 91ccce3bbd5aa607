-- Public fact of the funnel: one row per opportunity and open stage reached (logic in
-- int_opportunity_stages_reached, where docs/metrics.md#stage-reached is implemented).
-- Incremental (config in the model YAML): the change sets it reads its affected keys from.
-- depends_on: {{ ref('int_incremental__changed_opportunities') }}
with stages_reached as (

    select * from {{ ref('int_opportunity_stages_reached') }}
    -- an incremental build replaces only the changed opportunities' rows
    where {{ incremental_only('opportunity_id', 'incremental_changed_opportunities') }}

),

final as (

    select
        opportunity_id,
        stage_name,
        cast(stage_order as integer) as stage_order,
        entered_at,
        exited_at,
        days_in_stage,
        next_stage_name,
        outcome,
        is_inferred,
        owner_user_id,
        department_id,
        cohort_month,
        cast(entry_count as integer) as entry_count,
        entry_source,
        opportunity_status,
        is_furthest_stage
    from stages_reached

)

select * from final
