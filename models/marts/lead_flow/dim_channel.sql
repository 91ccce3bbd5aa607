-- The channels seed plus every channel found in the data, so no lead, campaign or touch points at a
-- channel the dimension does not know. Unseeded channels keep their raw name as label and no group
-- until someone adds them to the seed.
with seeded as (

    select channel, channel_group, label_en, label_zh
    from {{ ref('channels') }}

),

observed as (

    select channel from {{ ref('stg_crm__leads') }}
    union
    select channel from {{ ref('stg_campaign__campaigns') }}
    union
    select channel from {{ ref('stg_campaign__touches') }}

),

unseeded as (

    select distinct observed.channel
    from observed
    left join seeded
        on observed.channel = seeded.channel
    where observed.channel is not null
        and seeded.channel is null

),

final as (

    select
        cast(channel as string) as channel,
        cast(channel_group as string) as channel_group,
        cast(coalesce(label_en, channel) as string) as label_en,
        cast(coalesce(label_zh, channel) as string) as label_zh,
        true as is_seeded
    from seeded

    union all

    select
        cast(channel as string) as channel,
        cast(null as string) as channel_group,
        cast(channel as string) as label_en,
        cast(channel as string) as label_zh,
        false as is_seeded
    from unseeded

)

select * from final
