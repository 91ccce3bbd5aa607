-- The identifier graph: one row per edge between two kept identifiers (node ids of int_identity__identifiers)
-- seen on one record. A record with k identifiers is written as a star from its smallest node to the others
-- (k − 1 edges rather than k·(k − 1)/2: the same components, fewer rows), and every node also has a self-edge
-- so a lone identifier is a component of its own.
with observations as (

    select * from {{ ref('int_identity__observations') }}

),

kept as (

    select identifier_type, identifier_value, node_id
    from {{ ref('int_identity__identifiers') }}
    where node_id is not null

),

record_nodes as (

    select
        observations.record_type,
        observations.record_id,
        kept.node_id
    from observations
    inner join kept
        on kept.identifier_type = observations.identifier_type
        and kept.identifier_value = observations.identifier_value

),

anchors as (

    select record_type, record_id, min(node_id) as anchor_node_id
    from record_nodes
    group by record_type, record_id

),

final as (

    select distinct
        anchors.anchor_node_id as node_a,
        record_nodes.node_id as node_b
    from record_nodes
    inner join anchors
        on anchors.record_type = record_nodes.record_type
        and anchors.record_id = record_nodes.record_id
    union
    select node_id, node_id
    from kept

)

select * from final
