-- Ownership replay of the public-pool log: one row per holding, i.e. one user holding one lead or
-- account over [valid_from, valid_to). `assigned`, `claimed` and `transferred` start a holding for
-- user_id and end the previous one; `released` ends it and leaves the entity in the pool. A lead also
-- leaves its holder when it closes (converted, or finally disqualified): a closed lead is no longer
-- a resource to work, and the turnover formula counts the conversion as the outflow. Accounts stay
-- held until released or moved to another owner.
-- Incremental (config in the model YAML): the change sets it reads its affected keys from.
-- depends_on: {{ ref('int_incremental__changed_leads') }}
-- depends_on: {{ ref('int_incremental__watermarks') }}
with ownership_events as (

    select
        ownership_event_id,
        entity_type,
        entity_id,
        event_at,
        event_type,
        user_id
    from {{ ref('stg_crm__ownership_events') }}
    where entity_type in ('lead', 'account')
        and event_type in ('assigned', 'released', 'claimed', 'transferred')
        -- an incremental build replays only the changed leads and accounts, each from its whole history
        and {{ incremental_only('(entity_type, entity_id)', 'incremental_changed_holding_entities') }}

),

lead_closures as (

    select lead_id, closed_at, final_status
    from {{ ref('int_lead_timeline') }}
    where closed_at is not null
      and {{ incremental_only('lead_id', 'incremental_changed_leads') }}

),

-- Events at the same instant are applied in a fixed order so the replay never depends on file order:
-- a release first (so a simultaneous claim or assignment leaves the entity held), then assigned,
-- claimed, transferred; then by user and event id.
sequenced as (

    select
        *,
        row_number() over entity_history as event_seq
    from ownership_events
    window entity_history as (
        partition by entity_type, entity_id
        order by
            event_at,
            case event_type when 'released' then 0 when 'assigned' then 1 when 'claimed' then 2 else 3 end,
            user_id nulls first,
            ownership_event_id
    )

),

with_next as (

    select
        *,
        lead(event_at) over entity_history as next_event_at,
        lead(event_type) over entity_history as next_event_type,
        lead(ownership_event_id) over entity_history as next_ownership_event_id
    from sequenced
    window entity_history as (partition by entity_type, entity_id order by event_seq)

),

-- Every owner-giving event starts a holding. One without a user_id ends the previous holder's
-- holding (the next event always does) but starts none: an unknown owner is treated like the pool.
holdings as (

    select
        with_next.ownership_event_id as holding_id,
        with_next.entity_type,
        with_next.entity_id,
        with_next.user_id,
        with_next.event_type as started_by,
        with_next.event_at as valid_from,
        with_next.event_seq,
        with_next.next_event_at,
        with_next.next_event_type,
        with_next.next_ownership_event_id,
        lead_closures.closed_at,
        lead_closures.final_status
    from with_next
    left join lead_closures
        on with_next.entity_type = 'lead'
        and with_next.entity_id = lead_closures.lead_id
    where with_next.event_type <> 'released'
        and with_next.user_id is not null
        -- ownership logged at or after a lead closed starts no holding
        and (lead_closures.closed_at is null or with_next.event_at < lead_closures.closed_at)

),

bounded_holdings as (

    select
        holding_id,
        entity_type,
        entity_id,
        user_id,
        started_by,
        valid_from,
        -- the close wins a tie with the next ownership event: the lead converted in the rep's hands
        case
            when closed_at is not null and (next_event_at is null or closed_at <= next_event_at) then closed_at
            else next_event_at
        end as valid_to,
        case
            when closed_at is not null and (next_event_at is null or closed_at <= next_event_at) then final_status
            else next_event_type
        end as ended_by,
        case
            when closed_at is not null and (next_event_at is null or closed_at <= next_event_at) then null
            else next_ownership_event_id
        end as ended_by_event_id,
        event_seq as start_event_seq
    from holdings

),

final as (

    select
        holding_id,
        entity_type,
        entity_id,
        user_id,
        started_by,
        valid_from,
        valid_to,
        ended_by,
        ended_by_event_id,
        valid_to is null as is_current,
        start_event_seq
    from bounded_holdings

)

select * from final
