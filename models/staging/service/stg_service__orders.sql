-- One row per row of the `service/orders` export: typed, trimmed, normalised. Extra export columns are kept.
with source as (

    select * from {{ source('service', 'orders') }}

),

renamed as (

    select
        {{ cl_text('order_id') }} as order_id,
        {{ cl_text('account_id') }} as account_id,
        {{ cl_typed('order_date') }} as order_date,
        {{ cl_typed('amount') }} as amount,
        {{ cl_enum('order_type') }} as order_type,
        {{ cl_text('opportunity_id') }} as opportunity_id,
        {{ cl_typed('subscription_start') }} as subscription_start,
        {{ cl_typed('subscription_end') }} as subscription_end,
        {{ cl_star_except('source', source('service', 'orders'), ['order_id', 'account_id', 'order_date', 'amount', 'order_type', 'opportunity_id', 'subscription_start', 'subscription_end']) }}
    from source

),

final as (

    select * from renamed

)

select * from final
