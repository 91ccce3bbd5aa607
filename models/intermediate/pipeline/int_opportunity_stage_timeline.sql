-- Each opportunity's path through the funnel in time order: one row per open stage reached
-- (docs/metrics.md#stage-reached: skipped stages filled in) plus, for a closed deal, its close as a pseudo-entry ordered after every
-- stage. Kept as its own table because the exits (int_opportunity_stages_reached) read it several times.
-- Incremental (config in the model YAML): the change sets it reads its affected keys from.
-- depends_on: {{ ref('int_incremental__changed_opportunities') }}
with open_stages as (

    select stage_name, stage_order
    from {{ ref('stages') }}
    where not is_closed

),

outcomes as (

    select * from {{ ref('int_opportunity_outcomes') }}
    -- an incremental build recomputes only the changed opportunities
    where {{ incremental_only('opportunity_id', 'incremental_changed_opportunities') }}

),

open_entries as (

    select opportunity_id, stage_name, first_entered_at, first_owner_user_id, entry_count, entry_source
    from {{ ref('int_opportunity_stage_entries') }}
    where not is_closed_stage
      and {{ incremental_only('opportunity_id', 'incremental_changed_opportunities') }}

),

-- Every open stage up to the furthest one reached: a stage skipped on the way is still reached.
-- (A join against a handful of stages: at most stages × opportunities rows, no date spine.)
reached as (

    select
        outcomes.opportunity_id,
        outcomes.status,
        outcomes.owner_user_id as current_owner_user_id,
        outcomes.furthest_reached_order,
        outcomes.terminal_entered_at,
        outcomes.terminal_owner_user_id,
        open_stages.stage_name,
        open_stages.stage_order,
        open_entries.first_entered_at,
        open_entries.first_owner_user_id,
        open_entries.entry_count,
        open_entries.entry_source
    from outcomes
    inner join open_stages
        on open_stages.stage_order <= outcomes.furthest_reached_order
    left join open_entries
        on outcomes.opportunity_id = open_entries.opportunity_id
       and open_stages.stage_name = open_entries.stage_name

),

-- A skipped stage takes the entry time and owner of the next stage (in stage order) the deal actually
-- entered; past the last one, those of the closed stage it went to (docs/metrics.md).
filled as (

    select
        opportunity_id,
        stage_name,
        stage_order,
        coalesce(
            first_entered_at,
            {{ cl_first_value_ignore_nulls('first_entered_at') }} over following_stages,
            terminal_entered_at
        ) as entered_at,
        true as is_stage,
        first_entered_at is null as is_inferred,
        coalesce(
            first_owner_user_id,
            {{ cl_first_value_ignore_nulls('first_owner_user_id') }} over following_stages,
            terminal_owner_user_id,
            current_owner_user_id
        ) as owner_user_id,
        coalesce(entry_count, 0) as entry_count,
        case when first_entered_at is null then 'inferred' else entry_source end as entry_source,
        status,
        furthest_reached_order
    from reached
    window following_stages as (
        partition by opportunity_id order by stage_order
        rows between current row and unbounded following
    )

),

-- The close is never before a stage entry (int_opportunity_outcomes), so it ends the path.
closes as (

    select
        opportunity_id,
        closing_stage_name as stage_name,
        2147483647 as stage_order,
        closed_at as entered_at,
        false as is_stage,
        false as is_inferred,
        terminal_owner_user_id as owner_user_id,
        0 as entry_count,
        'close' as entry_source,
        status,
        furthest_reached_order
    from outcomes
    where status <> 'open'

),

timeline as (

    select * from filled
    union all
    select * from closes

),

-- Ties in entered_at are ordered by stage_order. A row that goes further than everything before it is a
-- "record": the next row in time with a higher stage is then simply the next record.
final as (

    select
        *,
        coalesce(
            stage_order > max(stage_order) over (
                partition by opportunity_id order by entered_at, stage_order
                rows between unbounded preceding and 1 preceding
            ),
            true
        ) as is_record
    from timeline

)

select * from final
