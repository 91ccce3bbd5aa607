-- One row per journey of a person towards a conversion (docs/metrics.md#attribution-paths): every conversion
-- (is_converted) and every journey that ended without one, which the Markov chain and the Shapley game need as
-- their failures. The window a journey's path is drawn from is set here; the touches are found in
-- int_attribution__path_touches.
--   lead:        converted = every lead at created_at; not converted = a person with touches and no lead, ending
--                at the person's last touch.
--   opportunity: converted = every opportunity at created_at; not converted = a lead that never converted
--                (disqualified, or still open), ending at its disqualification, else at the as-of instant.
--   won:         converted = a won deal at closed_at (revenue = amount); not converted = a lost deal at closed_at.
--                Open deals are in neither (censored: they may still be won).
-- A path holds the person's touches after the person's previous conversion of the same type (strictly before this
-- journey's end) and within the type's lookback before the end.
with lead_persons as (

    select lead_id, created_at, channel, campaign_id, is_converted, disqualified_at, person_id
    from {{ ref('fct_leads') }}

),

record_persons as (

    select record_type, record_id, person_id
    from {{ ref('int_identity__record_persons') }}

),

opportunities as (

    select
        opportunity_id, account_id, created_at, closed_at, is_closed, is_won, amount, source_lead_id, channel,
        campaign_id
    from {{ ref('fct_opportunities') }}

),

accounts as (

    select account_id, source_lead_id
    from {{ ref('stg_crm__accounts') }}

),

-- the account's earliest contact (ties by id), the person of last resort for a deal without a lead
account_first_contacts as (

    select account_id, person_id
    from (
        select
            contacts.account_id,
            record_persons.person_id,
            row_number() over (
                partition by contacts.account_id order by contacts.created_at nulls last, contacts.contact_id
            ) as contact_rank
        from {{ ref('stg_crm__contacts') }} as contacts
        inner join record_persons
            on record_persons.record_type = 'contact'
            and record_persons.record_id = contacts.contact_id
    ) as ranked
    where contact_rank = 1

),

-- the deal's person: its source lead's, else its account's source lead's, else its account's earliest contact's;
-- the lead that gave the person is the deal's lead (its creation is w_shaped's lead-creation position)
opportunity_persons as (

    select
        opportunities.*,
        coalesce(source_leads.person_id, account_leads.person_id, account_first_contacts.person_id) as person_id,
        case
            when source_leads.person_id is not null then source_leads.created_at
            when account_leads.person_id is not null then account_leads.created_at
        end as lead_created_at
    from opportunities
    left join lead_persons as source_leads
        on opportunities.source_lead_id = source_leads.lead_id
    left join accounts
        on opportunities.account_id = accounts.account_id
    left join lead_persons as account_leads
        on accounts.source_lead_id = account_leads.lead_id
    left join account_first_contacts
        on opportunities.account_id = account_first_contacts.account_id

),

as_of as (

    select as_of_at from {{ ref('int_as_of') }}

),

touch_persons as (

    select person_id, max(touched_at) as last_touched_at
    from {{ ref('fct_touches') }}
    where person_id is not null
    group by person_id

),

persons_with_leads as (

    select distinct person_id from lead_persons where person_id is not null

),

journey_ends as (

    select
        'lead' as conversion_type,
        lead_id as journey_id,
        true as is_converted,
        person_id,
        created_at as ended_at,
        cast(null as decimal(18, 2)) as revenue,
        channel as fallback_channel,
        campaign_id as fallback_campaign_id,
        created_at as lead_created_at,
        cast(null as timestamp) as opportunity_created_at
    from lead_persons

    union all

    select
        'lead',
        touch_persons.person_id,
        false,
        touch_persons.person_id,
        touch_persons.last_touched_at,
        cast(null as decimal(18, 2)),
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_string() }}),
        cast(null as timestamp),
        cast(null as timestamp)
    from touch_persons
    left join persons_with_leads
        on touch_persons.person_id = persons_with_leads.person_id
    where persons_with_leads.person_id is null

    union all

    select
        'opportunity',
        opportunity_id,
        true,
        person_id,
        created_at,
        cast(null as decimal(18, 2)),
        channel,
        campaign_id,
        lead_created_at,
        created_at
    from opportunity_persons

    union all

    select
        'opportunity',
        lead_persons.lead_id,
        false,
        lead_persons.person_id,
        coalesce(lead_persons.disqualified_at, as_of.as_of_at),
        cast(null as decimal(18, 2)),
        lead_persons.channel,
        lead_persons.campaign_id,
        lead_persons.created_at,
        cast(null as timestamp)
    from lead_persons
    cross join as_of
    where not lead_persons.is_converted

    union all

    select
        'won',
        opportunity_id,
        is_won,
        person_id,
        closed_at,
        case when is_won then amount end,
        channel,
        campaign_id,
        lead_created_at,
        created_at
    from opportunity_persons
    where is_closed and closed_at is not null

),

conversions as (

    select conversion_type, person_id, ended_at as converted_at
    from journey_ends
    where is_converted and person_id is not null

),

-- the path resets at the person's previous conversion of the same type
previous_conversions as (

    select
        journey_ends.conversion_type,
        journey_ends.journey_id,
        journey_ends.is_converted,
        max(conversions.converted_at) as previous_conversion_at
    from journey_ends
    inner join conversions
        on journey_ends.conversion_type = conversions.conversion_type
        and journey_ends.person_id = conversions.person_id
        and conversions.converted_at < journey_ends.ended_at
    group by journey_ends.conversion_type, journey_ends.journey_id, journey_ends.is_converted

),

final as (

    select
        journey_ends.conversion_type,
        cast(journey_ends.journey_id as {{ dbt.type_string() }}) as journey_id,
        journey_ends.is_converted,
        cast(journey_ends.person_id as {{ dbt.type_string() }}) as person_id,
        journey_ends.ended_at,
        previous_conversions.previous_conversion_at,
        case journey_ends.conversion_type
            {% for conversion_type in attribution_conversion_types() -%}
            when '{{ conversion_type }}' then {{ dbt.dateadd('day', -attribution_lookback_days(conversion_type), 'journey_ends.ended_at') }}
            {% endfor -%}
        end as lookback_start,
        journey_ends.revenue,
        cast(journey_ends.fallback_channel as {{ dbt.type_string() }}) as fallback_channel,
        cast(journey_ends.fallback_campaign_id as {{ dbt.type_string() }}) as fallback_campaign_id,
        journey_ends.lead_created_at,
        journey_ends.opportunity_created_at
    from journey_ends
    left join previous_conversions
        on journey_ends.conversion_type = previous_conversions.conversion_type
        and journey_ends.journey_id = previous_conversions.journey_id
        and journey_ends.is_converted = previous_conversions.is_converted

)

select * from final
