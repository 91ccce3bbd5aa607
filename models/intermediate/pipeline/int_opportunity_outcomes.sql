-- One row per opportunity: its status, when and by whom it closed, and how far into the funnel it got.
-- The funnel is the seed's open stages (is_closed = false) in stage_order; the closed stages only end it.
-- Incremental (config in the model YAML): the change sets it reads its affected keys from.
-- depends_on: {{ ref('int_incremental__changed_opportunities') }}
with stages as (

    select stage_name, stage_order, label_en, is_closed, is_won
    from {{ ref('stages') }}

),

stage_aliases as (

    {{ pipeline_stage_aliases('stages') }}

),

open_stages as (

    select stage_name, stage_order from stages where not is_closed

),

funnel_bounds as (

    select min(stage_order) as first_open_order, max(stage_order) as last_open_order
    from open_stages

),

-- The stage names a won or lost deal is shown as leaving to: the first won / first lost stage of the seed.
ranked_closed_stages as (

    select
        stage_name,
        is_won,
        row_number() over (partition by is_won order by stage_order) as position
    from stages
    where is_closed

),

closing_stage_names as (

    select
        max(case when is_won then stage_name end) as won_stage_name,
        max(case when not is_won then stage_name end) as lost_stage_name
    from ranked_closed_stages
    where position = 1

),

opportunities as (

    select
        opportunities.opportunity_id,
        opportunities.owner_user_id,
        opportunities.created_at,
        opportunities.close_date,
        -- The flags decide; a missing flag is read from what the seed says the current stage means. A won deal
        -- is closed whatever is_closed says.
        case
            when coalesce(opportunities.is_won, current_stages.is_won, false) then 'won'
            when coalesce(opportunities.is_closed, current_stages.is_closed, false) then 'lost'
            else 'open'
        end as status
    from {{ ref('stg_crm__opportunities') }} as opportunities
    left join stage_aliases
        on lower(opportunities.stage) = stage_aliases.stage_alias
    left join stages as current_stages
        on stage_aliases.stage_name = current_stages.stage_name
    -- an incremental build recomputes only the changed opportunities
    where {{ incremental_only('opportunities.opportunity_id', 'incremental_changed_opportunities') }}

),

entries as (

    select * from {{ ref('int_opportunity_stage_entries') }}
    where {{ incremental_only('opportunity_id', 'incremental_changed_opportunities') }}

),

entry_summary as (

    select
        opportunity_id,
        max(case when not is_closed_stage then stage_order end) as furthest_entered_order,
        max(case when not is_closed_stage then last_entered_at end) as last_open_entered_at,
        max(last_entered_at) as last_entered_at,
        count(case when not is_closed_stage then 1 end) as open_stages_entered
    from entries
    group by opportunity_id

),

-- The closing entry is the stage entry that matches the outcome (won → a won stage, lost → a lost stage).
-- Its latest entry closes the deal; its first entry is when it "entered" the closed stage, which is the
-- entry time inferred stages take when the deal skipped straight to the end (docs/metrics.md#stage-reached).
closing_entries as (

    select
        entries.opportunity_id,
        entries.entry_source,
        entries.first_entered_at,
        entries.first_owner_user_id,
        entries.last_entered_at,
        entries.last_owner_user_id,
        row_number() over (
            partition by entries.opportunity_id
            order by entries.last_entered_at desc, entries.stage_order
        ) as closing_rank
    from entries
    inner join opportunities
        on entries.opportunity_id = opportunities.opportunity_id
    where entries.is_closed_stage
      and (
          (opportunities.status = 'won' and entries.is_won_stage)
          or (opportunities.status = 'lost' and not entries.is_won_stage)
      )

),

users as (

    select user_id, department_id from {{ ref('stg_crm__users') }}

),

joined as (

    select
        opportunities.opportunity_id,
        opportunities.status,
        opportunities.owner_user_id,
        users.department_id,
        opportunities.created_at,
        opportunities.close_date,
        entry_summary.furthest_entered_order,
        entry_summary.last_open_entered_at,
        entry_summary.last_entered_at,
        coalesce(entry_summary.open_stages_entered, 0) as open_stages_entered,
        closing_entries.entry_source as closing_entry_source,
        closing_entries.first_entered_at as closing_first_entered_at,
        closing_entries.first_owner_user_id as closing_first_owner_user_id,
        closing_entries.last_entered_at as closing_last_entered_at,
        closing_entries.last_owner_user_id as closing_last_owner_user_id,
        funnel_bounds.first_open_order,
        funnel_bounds.last_open_order,
        closing_stage_names.won_stage_name,
        closing_stage_names.lost_stage_name
    from opportunities
    cross join funnel_bounds
    cross join closing_stage_names
    left join entry_summary
        on opportunities.opportunity_id = entry_summary.opportunity_id
    left join closing_entries
        on opportunities.opportunity_id = closing_entries.opportunity_id
       and closing_entries.closing_rank = 1
    left join users
        on opportunities.owner_user_id = users.user_id

),

-- closed_at: the closing history row, else close_date, else the last stage entry (any stage), else created_at; never
-- before the last open-stage entry or created_at (close_date is a bare date, midnight of a day on which the
-- deal may still have moved), so stage exits and cycle days are never negative.
closings as (

    select
        *,
        case when status <> 'open' then
            greatest(
                coalesce(
                    case when closing_entry_source = 'history' then closing_last_entered_at end,
                    cast(close_date as timestamp),
                    last_entered_at,
                    created_at
                ),
                coalesce(last_open_entered_at, created_at),
                coalesce(created_at, last_open_entered_at)
            )
        end as closed_at
    from joined

),

final as (

    select
        opportunity_id,
        status,
        status <> 'open' as is_closed,
        status = 'won' as is_won,
        owner_user_id,
        department_id,
        created_at,
        closed_at,
        case
            when closing_entry_source = 'history' then 'stage_history'
            when status <> 'open' and close_date is not null then 'close_date'
            when status <> 'open' then 'fallback'
        end as closed_at_source,
        open_stages_entered,
        furthest_entered_order,
        -- docs/metrics.md: a won deal reached every open stage; otherwise the furthest open stage it entered, or the
        -- first stage when it entered none (it was created in the funnel, then closed or never moved).
        case
            when status = 'won' then last_open_order
            else coalesce(furthest_entered_order, first_open_order)
        end as furthest_reached_order,
        -- Entry time and owner that inferred stages after the last actually entered one take: the closed
        -- stage's entry (or the close itself), and for an open deal with nothing entered, its creation.
        case
            when status <> 'open' then coalesce(closing_first_entered_at, closed_at)
            else created_at
        end as terminal_entered_at,
        case
            when status <> 'open' then coalesce(closing_first_owner_user_id, owner_user_id)
            else owner_user_id
        end as terminal_owner_user_id,
        case status when 'won' then coalesce(won_stage_name, 'won') when 'lost' then coalesce(lost_stage_name, 'lost') end
            as closing_stage_name
    from closings

)

select * from final
