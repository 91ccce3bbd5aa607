-- One row per opportunity and open stage it reached (docs/metrics.md#stage-reached), with entry, exit and outcome.
-- The exit of a stage is the first later moment the deal entered a later stage, or closed.
-- Incremental (config in the model YAML): the change sets it reads its affected keys from.
-- depends_on: {{ ref('int_incremental__changed_opportunities') }}
with timeline as (

    select * from {{ ref('int_opportunity_stage_timeline') }}
    -- an incremental build recomputes only the changed opportunities
    where {{ incremental_only('opportunity_id', 'incremental_changed_opportunities') }}

),

users as (

    select user_id, department_id from {{ ref('stg_crm__users') }}

),

-- For a record row (further than anything before it) the next later-stage entry is the next record.
record_exits as (

    select
        opportunity_id,
        stage_order,
        lead(entered_at) over next_record as exited_at,
        lead(stage_name) over next_record as next_stage_name
    from timeline
    where is_record
    window next_record as (partition by opportunity_id order by entered_at, stage_order)

),

-- A stage first entered after moving back (not a record) is rare: its exit is found by a small join.
moved_back_candidates as (

    select
        moved_back.opportunity_id,
        moved_back.stage_order,
        later.entered_at as exited_at,
        later.stage_name as next_stage_name,
        row_number() over (
            partition by moved_back.opportunity_id, moved_back.stage_order
            order by later.entered_at, later.stage_order
        ) as candidate_rank
    from timeline as moved_back
    inner join timeline as later
        on moved_back.opportunity_id = later.opportunity_id
       and later.stage_order > moved_back.stage_order
       and later.entered_at >= moved_back.entered_at
    where not moved_back.is_record

),

exits as (

    select opportunity_id, stage_order, exited_at, next_stage_name from record_exits
    union all
    select opportunity_id, stage_order, exited_at, next_stage_name
    from moved_back_candidates
    where candidate_rank = 1

),

final as (

    select
        timeline.opportunity_id,
        timeline.stage_name,
        timeline.stage_order,
        timeline.entered_at,
        cast(date_trunc('month', timeline.entered_at) as date) as cohort_month,
        exits.exited_at,
        {{ pipeline_days_between('timeline.entered_at', 'exits.exited_at') }} as days_in_stage,
        exits.next_stage_name,
        case
            when timeline.status = 'won' or timeline.stage_order < timeline.furthest_reached_order then 'advanced'
            when timeline.status = 'lost' then 'lost_here'
            else 'open_here'
        end as outcome,
        timeline.is_inferred,
        timeline.entry_count,
        timeline.entry_source,
        timeline.owner_user_id,
        users.department_id,
        timeline.status as opportunity_status,
        timeline.stage_order = timeline.furthest_reached_order as is_furthest_stage
    from timeline
    left join exits
        on timeline.opportunity_id = exits.opportunity_id
       and timeline.stage_order = exits.stage_order
    left join users
        on timeline.owner_user_id = users.user_id
    where timeline.is_stage

)

select * from final
