-- One row per kept identifier node: the connected component it belongs to (the smallest node id in it),
-- computed to the fixed point by cl_connected_components (macros/identity.sql).
{{ config(post_hook="{{ cl_drop_component_rounds() }}") }}
with components as (

    {{ cl_connected_components(ref('int_identity__edges')) }}

),

final as (

    select
        cast(node_id as bigint) as node_id,
        cast(component_id as bigint) as component_id
    from components

)

select * from final
