-- Month x channel x conversion type x model (docs/metrics.md#channel-attribution): the conversions and won revenue
-- each channel is credited with under each model, beside the spend of the channel's campaigns. Month = business
-- month of the conversion (credit) and of spend_date (spend). A (month, channel) with spend or credit has a row for
-- every conversion type and every model that credits it, zero when it earned nothing, so a channel that spends
-- without converting shows. Spend is the same on every type x model row of a month and channel: sum it across
-- months or channels, never across models or conversion types.
with credits as (

    select
        cast({{ dbt.date_trunc('month', 'converted_at') }} as date) as month,
        channel,
        conversion_type,
        model,
        sum(credit) as conversions_credited,
        sum(revenue_credit) as revenue_credited
    from {{ ref('fct_attribution') }}
    group by 1, 2, 3, 4

),

spend as (

    select
        cast({{ dbt.date_trunc('month', 'campaign_spend.spend_date') }} as date) as month,
        campaigns.channel,
        sum(campaign_spend.spend) as spend
    from {{ ref('stg_campaign__campaign_spend') }} as campaign_spend
    left join {{ ref('dim_campaign') }} as campaigns
        on campaign_spend.campaign_id = campaigns.campaign_id
    group by 1, 2

),

channel_months as (

    select month, channel from credits
    union
    select month, channel from spend

),

type_models as (

    {% for conversion_type in attribution_conversion_types() -%}
    {%- set types_loop = loop -%}
    {% for model in attribution_models_for(conversion_type) -%}
    {%- if not (types_loop.first and loop.first) %}
    union all
    {% endif -%}
    select '{{ conversion_type }}' as conversion_type, '{{ model }}' as model
    {%- endfor %}
    {%- endfor %}

),

joined as (

    select
        channel_months.month,
        channel_months.channel,
        type_models.conversion_type,
        type_models.model,
        coalesce(credits.conversions_credited, 0) as conversions_credited,
        case when type_models.conversion_type = 'won' then coalesce(credits.revenue_credited, 0) end
            as revenue_credited,
        coalesce(spend.spend, 0) as spend
    from channel_months
    cross join type_models
    left join credits
        on channel_months.month = credits.month
        and channel_months.channel is not distinct from credits.channel
        and type_models.conversion_type = credits.conversion_type
        and type_models.model = credits.model
    left join spend
        on channel_months.month = spend.month
        and channel_months.channel is not distinct from spend.channel

),

final as (

    select
        month,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(conversion_type as {{ dbt.type_string() }}) as conversion_type,
        cast(model as {{ dbt.type_string() }}) as model,
        cast(conversions_credited as double) as conversions_credited,
        cast(revenue_credited as double) as revenue_credited,
        cast(spend as decimal(18, 2)) as spend,
        {{ safe_ratio('spend', 'conversions_credited') }} as cost_per_credited_conversion,
        case when conversion_type = 'won' then {{ safe_ratio('revenue_credited - spend', 'spend') }} end as roi
    from joined

)

select * from final
