-- One row per row of the `service/tickets` export: typed, trimmed, normalised. Extra export columns are kept.
with source as (

    select * from {{ source('service', 'tickets') }}

),

renamed as (

    select
        {{ cl_text('ticket_id') }} as ticket_id,
        {{ cl_text('account_id') }} as account_id,
        {{ cl_typed('opened_at') }} as opened_at,
        {{ cl_typed('resolved_at') }} as resolved_at,
        {{ cl_enum('priority') }} as priority,
        {{ cl_text('category') }} as category,
        {{ cl_text('channel') }} as channel,
        {{ cl_typed('csat') }} as csat,
        {{ cl_star_except('source', source('service', 'tickets'), ['ticket_id', 'account_id', 'opened_at', 'resolved_at', 'priority', 'category', 'channel', 'csat']) }}
    from source

),

final as (

    select * from renamed

)

select * from final
