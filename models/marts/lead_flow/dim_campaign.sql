-- Campaigns with their channel's attributes. Campaign ids that leads, spend or touches reference but
-- the campaigns export lacks are kept as rows (is_in_source false, name = id) so every fact row joins.
with campaigns as (

    select
        campaign_id,
        campaign_name,
        channel,
        campaign_type,
        start_date,
        end_date,
        budget,
        department_id
    from {{ ref('stg_campaign__campaigns') }}

),

channels as (

    select channel, channel_group, label_en, label_zh
    from {{ ref('dim_channel') }}

),

referenced as (

    select campaign_id from {{ ref('stg_crm__leads') }}
    union
    select campaign_id from {{ ref('stg_campaign__campaign_spend') }}
    union
    select campaign_id from {{ ref('stg_campaign__touches') }}

),

unknown_campaigns as (

    select distinct referenced.campaign_id
    from referenced
    left join campaigns
        on referenced.campaign_id = campaigns.campaign_id
    where referenced.campaign_id is not null
        and campaigns.campaign_id is null

),

all_campaigns as (

    select *, true as is_in_source
    from campaigns

    union all

    select
        campaign_id,
        campaign_id as campaign_name,
        null as channel,
        null as campaign_type,
        null as start_date,
        null as end_date,
        null as budget,
        null as department_id,
        false as is_in_source
    from unknown_campaigns

),

final as (

    select
        cast(all_campaigns.campaign_id as string) as campaign_id,
        cast(all_campaigns.campaign_name as string) as campaign_name,
        cast(all_campaigns.channel as string) as channel,
        cast(channels.channel_group as string) as channel_group,
        cast(channels.label_en as string) as channel_label_en,
        cast(channels.label_zh as string) as channel_label_zh,
        cast(all_campaigns.campaign_type as string) as campaign_type,
        cast(all_campaigns.start_date as date) as start_date,
        cast(all_campaigns.end_date as date) as end_date,
        cast(all_campaigns.budget as decimal(18, 2)) as budget,
        cast(all_campaigns.department_id as string) as department_id,
        all_campaigns.is_in_source
    from all_campaigns
    left join channels
        on all_campaigns.channel = channels.channel

)

select * from final
