-- Every stage (open or closed) an opportunity actually entered, once per stage: first and last entry.
-- Re-entering a stage after moving back counts once, at its first entry (docs/metrics.md#stage-reached); the last
-- entry is kept because a closing stage's time is its latest entry (a deal lost, reopened and won closes late).
-- Incremental (config in the model YAML): the change sets it reads its affected keys from.
-- depends_on: {{ ref('int_incremental__changed_opportunities') }}
with stages as (

    select stage_name, stage_order, label_en, is_closed, is_won
    from {{ ref('stages') }}

),

-- Exports sometimes carry the English label instead of the seed's name; either maps to the seed stage.
stage_aliases as (

    {{ pipeline_stage_aliases('stages') }}

),

opportunities as (

    select opportunity_id, owner_user_id, created_at, stage
    from {{ ref('stg_crm__opportunities') }}
    -- an incremental build recomputes only the changed opportunities, each from its whole history
    where {{ incremental_only('opportunity_id', 'incremental_changed_opportunities') }}

),

history_rows as (

    select
        history.opportunity_id,
        stage_aliases.stage_name,
        history.entered_at,
        history.owner_user_id
    from {{ ref('stg_crm__opportunity_stage_history') }} as history
    inner join stage_aliases
        on lower(history.stage) = stage_aliases.stage_alias
    where history.entered_at is not null
      and {{ incremental_only('history.opportunity_id', 'incremental_changed_opportunities') }}

),

-- "No history rows" is meant literally: any row, even one naming an unknown stage, is history.
opportunities_with_history as (

    select distinct opportunity_id
    from {{ ref('stg_crm__opportunity_stage_history') }}
    where opportunity_id is not null
      and {{ incremental_only('opportunity_id', 'incremental_changed_opportunities') }}

),

-- docs/metrics.md: an opportunity with no history rows is in its current stage since created_at.
created_rows as (

    select
        opportunities.opportunity_id,
        stage_aliases.stage_name,
        opportunities.created_at as entered_at,
        cast(null as string) as owner_user_id
    from opportunities
    inner join stage_aliases
        on lower(opportunities.stage) = stage_aliases.stage_alias
    left join opportunities_with_history
        on opportunities.opportunity_id = opportunities_with_history.opportunity_id
    where opportunities_with_history.opportunity_id is null
      and opportunities.created_at is not null

),

entry_rows as (

    select *, 'history' as entry_source from history_rows
    union all
    select *, 'created_at' as entry_source from created_rows

),

-- Owner at entry is the history row's owner, else the opportunity's current owner (docs/metrics.md#stage-conversion).
-- Only rows of opportunities that exist are kept: history of an unknown opportunity has nothing to attach to.
owned_rows as (

    select
        entry_rows.opportunity_id,
        entry_rows.stage_name,
        entry_rows.entered_at,
        coalesce(entry_rows.owner_user_id, opportunities.owner_user_id) as owner_user_id,
        entry_rows.owner_user_id is not null as is_owner_from_history,
        entry_rows.entry_source
    from entry_rows
    inner join opportunities
        on entry_rows.opportunity_id = opportunities.opportunity_id

),

-- One sort per opportunity × stage gives first entry, last entry and count together (no self-join: this
-- runs over the whole history). Two rows at the same instant are ordered by owner, so reruns agree.
ranked_rows as (

    select
        *,
        row_number() over entries_in_time as entry_number,
        count(*) over entries_all as entry_count,
        last_value(entered_at) over entries_all as last_entered_at,
        last_value(owner_user_id) over entries_all as last_owner_user_id
    from owned_rows
    window
        entries_in_time as (
            partition by opportunity_id, stage_name
            order by entered_at, owner_user_id
        ),
        entries_all as (
            partition by opportunity_id, stage_name
            order by entered_at, owner_user_id
            rows between unbounded preceding and unbounded following
        )

),

first_entries as (

    select * from ranked_rows where entry_number = 1

),

final as (

    select
        first_entries.opportunity_id,
        first_entries.stage_name,
        stages.stage_order,
        stages.is_closed as is_closed_stage,
        stages.is_won as is_won_stage,
        first_entries.entered_at as first_entered_at,
        first_entries.owner_user_id as first_owner_user_id,
        first_entries.is_owner_from_history,
        first_entries.last_entered_at,
        first_entries.last_owner_user_id,
        first_entries.entry_count,
        first_entries.entry_source
    from first_entries
    inner join stages
        on first_entries.stage_name = stages.stage_name

)

select * from final
