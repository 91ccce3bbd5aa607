-- One row per distinct feedback text as written (a disqualify reason, a loss reason) with the seed reason it
-- matched, how, and how often it was given: the list of `other` texts tells which reasons or aliases to add to the
-- lead_feedback_reasons seed (docs/metrics.md#follow-up-status). The Data page reads it.
with feedback as (

    select * from {{ ref('int_followup_feedback') }}

),

final as (

    select
        feedback_text,
        min(feedback_key) as normalised_text,
        min(reason) as reason,
        min(category) as category,
        min(match_type) as match_type,
        min(reason) = 'other' as is_unmatched,
        count(*) as feedbacks,
        cast(sum(case when entity_type = 'lead' then 1 else 0 end) as bigint) as lead_feedbacks,
        cast(sum(case when entity_type = 'opportunity' then 1 else 0 end) as bigint) as opportunity_feedbacks,
        min(feedback_at) as first_given_at,
        max(feedback_at) as last_given_at
    from feedback
    group by feedback_text

)

select * from final
