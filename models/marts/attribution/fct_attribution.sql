-- One row per conversion x model x touch on the conversion's path (docs/metrics.md#attribution-models): the credit
-- each touch earns under each model. Credit sums to 1 per conversion and model; revenue_credit = credit x the won
-- amount (won conversions only). A conversion with an empty path has one synthetic touch (touch_id null) that
-- takes the whole credit under every model.
{%- set half_life = attribution_half_life_days() %}
with journeys as (

    select
        conversion_type, journey_id, person_id, ended_at, revenue, lead_created_at, opportunity_created_at
    from {{ ref('int_attribution__journeys') }}
    where is_converted

),

paths as (

    select
        path_touches.conversion_type,
        path_touches.journey_id as conversion_id,
        journeys.ended_at as converted_at,
        journeys.person_id,
        journeys.revenue,
        journeys.lead_created_at,
        journeys.opportunity_created_at,
        path_touches.touch_id,
        path_touches.touched_at,
        path_touches.channel,
        path_touches.channel_state,
        path_touches.campaign_id,
        path_touches.content_id,
        path_touches.is_synthetic,
        path_touches.touch_position,
        path_touches.path_length,
        path_touches.channel_touches,
        path_touches.channel_set,
        path_touches.channel_count
    from {{ ref('int_attribution__path_touches') }} as path_touches
    inner join journeys
        on path_touches.conversion_type = journeys.conversion_type
        and path_touches.journey_id = journeys.journey_id
    where path_touches.is_converted

),

-- Sums over a path run in touch order over the whole path (the `whole_path` windows), so a rebuild adds the same
-- numbers in the same order and gets the same last bits.
-- time_decay's raw weight halves every attribution_half_life_days before the conversion; w_shaped's positions
-- are the first touch and the last touches at or before the lead's and the opportunity's creation
positioned as (

    select
        paths.*,
        power(0.5, {{ attribution_days_between('touched_at', 'converted_at') }} / {{ half_life }}) as decay_weight,
        max(case when touched_at <= lead_created_at then touch_position end)
            over (partition by conversion_type, conversion_id) as lead_touch_position,
        max(case when touched_at <= opportunity_created_at then touch_position end)
            over (partition by conversion_type, conversion_id) as opportunity_touch_position
    from paths

),

w_shaped_raw as (

    select
        positioned.*,
        case when touch_position = 1 then 0.3 else 0 end
        + case when touch_position = lead_touch_position then 0.3 else 0 end
        + case when touch_position = opportunity_touch_position then 0.3 else 0 end as position_weight,
        touch_position <> 1
        and touch_position is distinct from lead_touch_position
        and touch_position is distinct from opportunity_touch_position as is_rest
    from positioned

),

w_shaped_weights as (

    select
        w_shaped_raw.*,
        position_weight
        + case when is_rest then {{ cl_double_literal('0.1') }} / sum(case when is_rest then 1 else 0 end)
            over (partition by conversion_type, conversion_id) else 0 end as w_shaped_weight
    from w_shaped_raw

),

weights as (

    select conversion_type, model, channel_set, channel, weight
    from {{ ref('int_attribution__channel_weights') }}

),

-- a data-driven weight is split over the path's channels in proportion to their weights (equally when all are 0),
-- then equally over each channel's touches; sum(weight / channel_touches) over the path = sum of its channels'
-- weights
touch_weights as (

    select
        w_shaped_weights.*
        {%- for model in ['markov', 'shapley'] %},
        coalesce({{ model }}_weights.weight, 0) / w_shaped_weights.channel_touches as {{ model }}_touch_weight
        {%- endfor %}
    from w_shaped_weights
    {%- for model in ['markov', 'shapley'] %}
    left join weights as {{ model }}_weights
        on {{ model }}_weights.model = '{{ model }}'
        and w_shaped_weights.conversion_type = {{ model }}_weights.conversion_type
        and w_shaped_weights.channel_set = {{ model }}_weights.channel_set
        and w_shaped_weights.channel_state = {{ model }}_weights.channel
    {%- endfor %}

),

-- every sum over a path in one window (one pass over the paths, not one per model)
model_credits as (

    select
        touch_weights.*,
        case when touch_position = 1 then {{ cl_double_literal('1.0') }} else {{ cl_double_literal('0.0') }} end as credit_first_touch,
        case when touch_position = path_length then {{ cl_double_literal('1.0') }} else {{ cl_double_literal('0.0') }} end as credit_last_touch,
        {{ cl_double_literal('1.0') }} / path_length as credit_linear,
        decay_weight / sum(decay_weight) over whole_path as credit_time_decay,
        case
            when path_length = 1 then 1.0
            when path_length = 2 then 0.5
            when touch_position = 1 or touch_position = path_length then 0.4
            else {{ cl_double_literal('0.2') }} / (path_length - 2)
        end as credit_position_based,
        -- positions that coincide add up and a missing one (or an empty rest) drops out: normalised to 1
        w_shaped_weight / sum(w_shaped_weight) over whole_path as credit_w_shaped
        {%- for model in ['markov', 'shapley'] %},
        case
            when sum({{ model }}_touch_weight) over whole_path > 0
                then {{ model }}_touch_weight / sum({{ model }}_touch_weight) over whole_path
            else {{ cl_double_literal('1.0') }} / count(*) over whole_path
        end as credit_{{ model }}
        {%- endfor %}
    from touch_weights
    window whole_path as (
        partition by conversion_type, conversion_id order by touch_position
        rows between unbounded preceding and unbounded following
    )

),

credits as (

    {% for model in attribution_models() %}
    {%- if not loop.first %}
    union all
    {% endif -%}
    select
        model_credits.conversion_type,
        model_credits.conversion_id,
        model_credits.converted_at,
        model_credits.person_id,
        model_credits.touch_id,
        model_credits.touched_at,
        model_credits.channel,
        model_credits.campaign_id,
        model_credits.content_id,
        model_credits.is_synthetic,
        model_credits.touch_position,
        model_credits.path_length,
        model_credits.revenue,
        '{{ model }}' as model,
        model_credits.credit_{{ model }} as credit
    from model_credits
    {%- if model == 'w_shaped' %}
    where model_credits.conversion_type <> 'lead'
    {%- endif %}
    {% endfor %}

),

final as (

    select
        cast(conversion_type as {{ dbt.type_string() }}) as conversion_type,
        cast(conversion_id as {{ dbt.type_string() }}) as conversion_id,
        converted_at,
        cast(person_id as {{ dbt.type_string() }}) as person_id,
        cast(touch_id as {{ dbt.type_string() }}) as touch_id,
        touched_at,
        cast(channel as {{ dbt.type_string() }}) as channel,
        cast(campaign_id as {{ dbt.type_string() }}) as campaign_id,
        cast(content_id as {{ dbt.type_string() }}) as content_id,
        cast(model as {{ dbt.type_string() }}) as model,
        -- rounded a little below double precision, so a share prints as 0.3, not 0.30000000000000004; the sums stay
        -- within 1e-9 of 1 and of the amount
        cast(round(credit, 12) as double) as credit,
        cast(round(credit * revenue, 6) as double) as revenue_credit,
        is_synthetic,
        cast(touch_position as integer) as touch_position,
        cast(path_length as integer) as path_length
    from credits

)

select * from final
