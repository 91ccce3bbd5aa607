-- Customer companies with their profile (客户画像): grade, owner and owner's department, the lead and channel
-- they came from, and who referred them.
with accounts as (

    select * from {{ ref('stg_crm__accounts') }}

),

-- accounts that orders, opportunities or tickets point at but the accounts export lacks (the export is
-- optional): they get a row named by their id, first seen at their earliest fact, so every fact keeps its account
referenced_accounts as (

    select account_id, cast(order_date as timestamp) as seen_at from {{ ref('stg_service__orders') }}
    union all
    select account_id, created_at from {{ ref('stg_crm__opportunities') }}
    union all
    select account_id, opened_at from {{ ref('stg_service__tickets') }}

),

missing_accounts as (

    select
        account_id,
        min(seen_at) as created_at
    from referenced_accounts
    where account_id is not null
      and account_id not in (select account_id from accounts where account_id is not null)
    group by account_id

),

all_accounts as (

    select
        account_id, account_name, created_at, industry, company_size, region, grade,
        owner_user_id, source_lead_id, referred_by_account_id,
        false as is_inferred
    from accounts

    union all

    select
        account_id, account_id, created_at, null, null, null, null,
        null, null, null,
        true
    from missing_accounts

),

leads as (

    select lead_id, channel, campaign_id from {{ ref('stg_crm__leads') }}

),

channels as (

    select channel, channel_group from {{ ref('channels') }}

),

owners as (

    select user_id, user_name, department_id from {{ ref('dim_user') }}

),

final as (

    select
        all_accounts.account_id,
        all_accounts.account_name,
        all_accounts.created_at,
        all_accounts.industry,
        all_accounts.company_size,
        all_accounts.region,
        -- only the three grades of the grading scheme; anything else is ungraded rather than a fourth grade
        case when all_accounts.grade in ('A', 'B', 'C') then all_accounts.grade end as grade,
        all_accounts.owner_user_id,
        owners.user_name as owner_user_name,
        owners.department_id as owner_department_id,
        all_accounts.source_lead_id,
        leads.channel as source_channel,
        channels.channel_group as source_channel_group,
        leads.campaign_id as source_campaign_id,
        all_accounts.referred_by_account_id,
        all_accounts.referred_by_account_id is not null as is_referred,
        all_accounts.is_inferred
    from all_accounts
    left join leads
        on all_accounts.source_lead_id = leads.lead_id
    left join channels
        on leads.channel = channels.channel
    left join owners
        on all_accounts.owner_user_id = owners.user_id

)

select * from final
