-- The purchase days of the accounts that buy without a subscription (retention_rule order_window), to as_of: the
-- compact input of the repeat-purchase model (int_customer__repeat_purchase_model). Several orders of one account
-- on one day are one purchase occasion, as BG/NBD counts them.
with accounts as (

    select account_id
    from {{ ref('int_customer__account_lifetime') }}
    where retention_rule = 'order_window'

),

orders as (

    select orders.account_id, orders.order_date, orders.amount
    from {{ ref('int_customer__orders') }} as orders
    inner join accounts
        on orders.account_id = accounts.account_id

),

final as (

    select
        account_id,
        order_date,
        cast(count(*) as bigint) as orders,
        cast(sum(amount) as double) as amount
    from orders
    group by account_id, order_date

)

select * from final
