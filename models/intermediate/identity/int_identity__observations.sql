-- One row per identifier seen on a record: every touch, lead and contact lists the identifiers it carries
-- (macro cl_identity_records), each normalised by staging (e-mail trimmed and lower-cased, phone folded to one
-- spelling, openids kept as written: they are case-sensitive). Two identifiers on one record belong to one person
-- (docs/metrics.md#one-person-across-channels-oneid).
with observed as (

    {%- for record in cl_identity_records() %}
    {{ cl_unpivot_record(record, ['identifier_type'], record.identifiers,
                         extra=["'" ~ record.record_type ~ "' as record_type", record.id ~ ' as record_id',
                                record.seen_at ~ ' as seen_at']) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

final as (

    -- no grouping needed for one row per record x identifier: the record ids are unique (the door's duplicate_key
    -- rule, and staging's unique tests), and every column is an identifier type of its own, so a record lists a
    -- (type, value) once
    select
        record_type,
        record_id,
        identifier_type,
        identifier_value,
        seen_at
    from observed

)

select * from final
