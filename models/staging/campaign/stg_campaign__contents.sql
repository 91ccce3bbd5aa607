-- One row per row of the `campaign/contents` export: typed, trimmed, normalised. Extra export columns are kept.
with source as (

    select * from {{ source('campaign', 'contents') }}

),

renamed as (

    select
        {{ cl_text('content_id') }} as content_id,
        {{ cl_text('title') }} as title,
        {{ cl_enum('content_type') }} as content_type,
        {{ cl_text('campaign_id') }} as campaign_id,
        {{ cl_typed('published_at') }} as published_at,
        {{ cl_star_except('source', source('campaign', 'contents'), ['content_id', 'title', 'content_type', 'campaign_id', 'published_at']) }}
    from source

),

final as (

    select * from renamed

)

select * from final
