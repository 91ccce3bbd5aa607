-- One row per touch on a journey's path (docs/metrics.md#attribution-paths), converted or not: the person's touches
-- after the previous conversion of the same type and within the lookback, in time order (ties by touch_id). A
-- journey with no such touch gets one synthetic touch (touch_id null) with the fallback channel and campaign of its
-- lead or deal (possibly null: never invented), dated at the journey's end.
with journeys as (

    select * from {{ ref('int_attribution__journeys') }}

),

touches as (

    select touch_id, touched_at, person_id, channel, campaign_id, content_id
    from {{ ref('fct_touches') }}

),

touched as (

    select
        journeys.conversion_type,
        journeys.journey_id,
        journeys.is_converted,
        touches.touch_id,
        touches.touched_at,
        touches.channel,
        touches.campaign_id,
        touches.content_id
    from journeys
    inner join touches
        on journeys.person_id = touches.person_id
        and touches.touched_at <= journeys.ended_at
        and touches.touched_at >= journeys.lookback_start
        and (journeys.previous_conversion_at is null or touches.touched_at > journeys.previous_conversion_at)

),

journeys_touched as (

    select distinct conversion_type, journey_id, is_converted from touched

),

synthetic as (

    select
        journeys.conversion_type,
        journeys.journey_id,
        journeys.is_converted,
        cast(null as {{ dbt.type_string() }}) as touch_id,
        journeys.ended_at as touched_at,
        journeys.fallback_channel as channel,
        journeys.fallback_campaign_id as campaign_id,
        cast(null as {{ dbt.type_string() }}) as content_id
    from journeys
    left join journeys_touched
        on journeys.conversion_type = journeys_touched.conversion_type
        and journeys.journey_id = journeys_touched.journey_id
        and journeys.is_converted = journeys_touched.is_converted
    where journeys_touched.journey_id is null

),

path_touches as (

    select *, false as is_synthetic from touched
    union all
    select *, true as is_synthetic from synthetic

),

numbered as (

    select
        path_touches.*,
        {{ attribution_channel_state('channel') }} as channel_state,
        row_number() over (
            partition by conversion_type, journey_id, is_converted order by touched_at, touch_id
        ) as touch_position,
        count(*) over (partition by conversion_type, journey_id, is_converted) as path_length
    from path_touches

),

channel_touches as (

    select conversion_type, journey_id, is_converted, channel_state, count(*) as channel_touches
    from numbered
    group by conversion_type, journey_id, is_converted, channel_state

),

-- the journey's channel set, in the order closedloop.attribution parses it back (sorted, one entry per channel)
channel_sets as (

    select
        conversion_type,
        journey_id,
        is_converted,
        {{ cl_listagg('channel_state', attribution_set_separator(), 'channel_state') }} as channel_set,
        count(*) as channel_count
    from channel_touches
    group by conversion_type, journey_id, is_converted

),

final as (

    select
        numbered.conversion_type,
        numbered.journey_id,
        numbered.is_converted,
        cast(numbered.touch_id as {{ dbt.type_string() }}) as touch_id,
        numbered.touched_at,
        cast(numbered.channel as {{ dbt.type_string() }}) as channel,
        cast(numbered.campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(numbered.content_id as {{ dbt.type_string() }}) as content_id,
        numbered.is_synthetic,
        cast(numbered.channel_state as {{ dbt.type_string() }}) as channel_state,
        cast(numbered.touch_position as integer) as touch_position,
        cast(numbered.path_length as integer) as path_length,
        cast(channel_touches.channel_touches as integer) as channel_touches,
        cast(channel_sets.channel_set as {{ dbt.type_string() }}) as channel_set,
        cast(channel_sets.channel_count as integer) as channel_count
    from numbered
    inner join channel_touches
        on numbered.conversion_type = channel_touches.conversion_type
        and numbered.journey_id = channel_touches.journey_id
        and numbered.is_converted = channel_touches.is_converted
        and numbered.channel_state = channel_touches.channel_state
    inner join channel_sets
        on numbered.conversion_type = channel_sets.conversion_type
        and numbered.journey_id = channel_sets.journey_id
        and numbered.is_converted = channel_sets.is_converted

)

select * from final
