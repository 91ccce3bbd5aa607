-- The opportunities an incremental build recomputes through the pipeline models: every opportunity whose own
-- record changed (stage, amount, flags, owner, dates…), that has a stage-history row in the look-back window, or
-- whose owner or a stage-history owner has a changed user record (department at entry). One row per opportunity.
with record_versions as (

    select * from {{ ref('int_incremental__record_versions') }}

),

changed_users as (

    select record_id as user_id from record_versions where record_type = 'user' and is_changed

),

affected as (

    select record_id as opportunity_id from record_versions where record_type = 'opportunity' and is_changed
    union all
    select opportunity_id from {{ ref('stg_crm__opportunity_stage_history') }}
    where entered_at >= {{ incremental_window_start('opportunity_stage_history') }}
    union all
    select opportunity_id from {{ ref('stg_crm__opportunities') }}
    where owner_user_id in (select user_id from changed_users)
    union all
    select opportunity_id from {{ ref('stg_crm__opportunity_stage_history') }}
    where owner_user_id in (select user_id from changed_users)

),

final as (

    select distinct opportunity_id from affected where opportunity_id is not null
    {%- if flags.FULL_REFRESH %}
    -- a full refresh rebuilds every model from scratch and reads no change set
        and false
    {%- endif %}

)

select * from final
