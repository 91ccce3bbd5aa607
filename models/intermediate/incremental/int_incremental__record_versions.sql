-- A fingerprint (64-bit hash) of every record whose content the incremental models depend on (lead, opportunity, the resolved
-- lead → opportunity link, user), now and at the previous build. A record is changed when it is new, gone, or any
-- contract column differs: an updated opportunity re-exported in a later file is caught whatever its dates say.
-- Kept for removed records for one build (fingerprint null), so their rows are deleted downstream.
{%- set previous = cl_previous_relation() %}
with current_rows as (

    select
        'lead' as record_type,
        lead_id as record_id,
        cast(null as string) as linked_id,
        {{ record_fingerprint(['lead_id', 'created_at', 'channel', 'status', 'campaign_id', 'company_name', 'contact_name',
                          'email', 'phone', 'wechat_openid', 'industry', 'region', 'owner_user_id',
                          'referrer_account_id', 'converted_at', 'converted_account_id', 'converted_opportunity_id',
                          'disqualify_reason']) }} as fingerprint
    from {{ ref('stg_crm__leads') }}

    union all

    select
        'opportunity',
        opportunity_id,
        cast(null as string),
        {{ record_fingerprint(['opportunity_id', 'account_id', 'owner_user_id', 'created_at', 'amount', 'opportunity_type',
                          'stage', 'is_closed', 'is_won', 'opportunity_name', 'source_lead_id', 'close_date',
                          'loss_reason']) }}
    from {{ ref('stg_crm__opportunities') }}

    union all

    -- the link as resolved (both sides of the CRM, smallest claiming lead, primary opportunity): linked_id is the
    -- lead, so the lead an opportunity leaves and the one it joins are both known
    select
        'opportunity_link',
        opportunity_id,
        lead_id,
        {{ record_fingerprint(['opportunity_id', 'lead_id', 'link_source', 'opportunity_created_at', 'amount',
                          'opportunity_type', 'is_closed', 'is_won', 'is_primary_for_lead']) }}
    from {{ ref('int_lead_opportunities') }}

    union all

    select
        'user',
        user_id,
        cast(null as string),
        {{ record_fingerprint(['user_id', 'user_name', 'department_id', 'role', 'manager_user_id', 'hired_at', 'left_at']) }}
    from {{ ref('stg_crm__users') }}

),

-- one version per record (landing keeps one row per key; a duplicate that slipped through still fingerprints the same
-- whatever the row order)
current_versions as (

    select
        record_type,
        record_id,
        min(linked_id) as linked_id,
        case when count(*) = 1 then min(fingerprint) else {{ cl_hash_agg_sorted('fingerprint') }} end
            as fingerprint
    from current_rows
    where record_id is not null
    group by record_type, record_id

),

previous_versions as (

    {% if previous is not none -%}
    select record_type, record_id, linked_id, fingerprint
    from {{ this }}
    where fingerprint is not null
    {%- else -%}
    -- the first build: every record is new
    select
        cast(null as string) as record_type,
        cast(null as string) as record_id,
        cast(null as string) as linked_id,
        cast(null as {{ cl_hash_type() }}) as fingerprint
    where false
    {%- endif %}

),

final as (

    select
        coalesce(current_versions.record_type, previous_versions.record_type) as record_type,
        coalesce(current_versions.record_id, previous_versions.record_id) as record_id,
        current_versions.linked_id,
        current_versions.fingerprint,
        previous_versions.linked_id as previous_linked_id,
        previous_versions.fingerprint as previous_fingerprint,
        current_versions.fingerprint is distinct from previous_versions.fingerprint as is_changed
    from current_versions
    full outer join previous_versions
        on current_versions.record_type = previous_versions.record_type
       and current_versions.record_id = previous_versions.record_id

)

select * from final
