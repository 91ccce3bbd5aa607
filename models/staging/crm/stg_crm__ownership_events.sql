-- One row per row of the `crm/ownership_events` export: typed, trimmed, normalised. Extra export columns are kept.
with source as (

    select * from {{ source('crm', 'ownership_events') }}

),

renamed as (

    select
        {{ cl_enum('entity_type') }} as entity_type,
        {{ cl_text('entity_id') }} as entity_id,
        {{ cl_typed('event_at') }} as event_at,
        {{ cl_enum('event_type') }} as event_type,
        {{ cl_text('user_id') }} as user_id,
        {{ cl_text('reason') }} as reason,
        {{ cl_star_except('source', source('crm', 'ownership_events'), ['entity_type', 'entity_id', 'event_at', 'event_type', 'user_id', 'reason']) }}
    from source

),

final as (

    select
        {{ surrogate_key(['entity_type', 'entity_id', 'event_at', 'event_type', 'user_id']) }} as ownership_event_id,
        *
    from renamed

)

select * from final
