-- Accounts buying without a subscription per department × grade × band of predicted 12-month value, with their
-- predictions summed: what the Lifecycle page's predicted-value tiles and distribution sum instead of reading every
-- account. The bands are the var predicted_value_band_amounts (the dashboards read the same var for their labels).
{%- set bounds = var('predicted_value_band_amounts') %}
with predicted as (

    select as_of_date, department_id, grade, predicted_value_12m, expected_orders_12m, p_alive
    from {{ ref('fct_customer_predicted_value') }}

),

banded as (

    select
        *,
        -- index into the bounds: band i holds bounds[i] <= value < bounds[i + 1], the last one everything above
        case
            when predicted_value_12m is null then null
            else 0
                {%- for lower in bounds[1:] %}
                + case when predicted_value_12m >= {{ lower }} then 1 else 0 end
                {%- endfor %}
        end as value_band
    from predicted

),

final as (

    select
        department_id,
        grade,
        cast(value_band as integer) as value_band,
        max(as_of_date) as as_of_date,
        cast(count(*) as bigint) as accounts,
        cast(sum(predicted_value_12m) as double) as predicted_value_12m,
        cast(sum(expected_orders_12m) as double) as expected_orders_12m,
        cast(sum(p_alive) as double) as p_alive_sum,
        cast(count(p_alive) as bigint) as p_alive_count
    from banded
    group by department_id, grade, value_band

)

select * from final
