-- The journeys of int_attribution__path_touches folded into distinct paths, the compact input of the data-driven
-- weights (int_attribution__channel_weights): per conversion type, channel path (channel states in time order,
-- repeats kept) and outcome, how many journeys took it. Path and channel-set strings use the separators of
-- macros/attribution.sql; their lengths travel beside them so the Python side can check it split them right.
with journey_strings as (

    select
        conversion_type,
        journey_id,
        is_converted,
        {{ cl_listagg('channel_state', attribution_path_separator(), 'touch_position') }} as path,
        max(path_length) as path_length,
        max(channel_set) as channel_set,
        max(channel_count) as channel_count
    from {{ ref('int_attribution__path_touches') }}
    group by conversion_type, journey_id, is_converted

),

final as (

    select
        conversion_type,
        cast(path as {{ dbt.type_string() }}) as path,
        cast(path_length as integer) as path_length,
        cast(channel_set as {{ dbt.type_string() }}) as channel_set,
        cast(channel_count as integer) as channel_count,
        is_converted,
        cast(count(*) as bigint) as journeys
    from journey_strings
    group by conversion_type, path, path_length, channel_set, channel_count, is_converted

)

select * from final
