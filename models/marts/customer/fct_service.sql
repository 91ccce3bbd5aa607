-- Service (服务) by month and account: tickets opened and resolved, how long resolution took and how satisfied
-- the customer was, carrying the account's grade so service can be compared across A/B/C customers.
-- Only month × account pairs with a ticket opened, resolved or rated that month have a row.
with as_of as (

    select as_of_at, as_of_month from {{ ref('int_as_of') }}

),

tickets as (

    select
        tickets.ticket_id,
        tickets.account_id,
        tickets.opened_at,
        -- a resolution after as_of (or before opening, a data error) is not known at as_of
        case when tickets.resolved_at <= as_of.as_of_at and tickets.resolved_at >= tickets.opened_at
            then tickets.resolved_at end as resolved_at,
        case when tickets.csat between 1 and 5 then tickets.csat end as csat
    from {{ ref('stg_service__tickets') }} as tickets
    cross join as_of
    where tickets.opened_at <= as_of.as_of_at

),

-- a ticket counts as opened in its opening month, and as resolved (with its resolution time and rating) in
-- its resolution month; a rating on a ticket not resolved yet counts in its opening month
ticket_events as (

    select
        account_id,
        cast(date_trunc('month', opened_at) as date) as month,
        1 as is_opened,
        0 as is_resolved,
        cast(null as double) as resolution_hours,
        case when resolved_at is null then csat end as csat
    from tickets

    union all

    select
        account_id,
        cast(date_trunc('month', resolved_at) as date),
        0,
        1,
        {{ cl_seconds_between('opened_at', 'resolved_at') }} / cast(3600 as double),
        csat
    from tickets
    where resolved_at is not null

),

monthly as (

    select
        month,
        account_id,
        sum(is_opened) as tickets_opened,
        sum(is_resolved) as tickets_resolved,
        median(resolution_hours) as median_resolution_hours,
        avg(resolution_hours) as mean_resolution_hours,
        sum(resolution_hours) as resolution_hours_total,
        avg(csat) as csat_avg,
        count(csat) as csat_count,
        sum(csat) as csat_total
    from ticket_events
    group by month, account_id

),

accounts as (

    select account_id, grade, owner_department_id from {{ ref('dim_account') }}

),

final as (

    select
        monthly.month,
        monthly.account_id,
        accounts.grade,
        accounts.owner_department_id as department_id,
        cast(monthly.tickets_opened as bigint) as tickets_opened,
        cast(monthly.tickets_resolved as bigint) as tickets_resolved,
        cast(monthly.median_resolution_hours as double) as median_resolution_hours,
        cast(monthly.mean_resolution_hours as double) as mean_resolution_hours,
        -- totals beside the averages so a roll-up over accounts or grades is an exact weighted mean
        cast(monthly.resolution_hours_total as double) as resolution_hours_total,
        cast(monthly.csat_avg as double) as csat_avg,
        cast(monthly.csat_count as bigint) as csat_count,
        cast(monthly.csat_total as bigint) as csat_total
    from monthly
    left join accounts
        on monthly.account_id = accounts.account_id

)

select * from final
