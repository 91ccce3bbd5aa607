{# Incremental builds (docs/dbt-conventions.md "Incremental models").

   `closedloop build` starts an incremental build from a copy of the served warehouse, so the previous build's
   tables are there to be updated. Three change models in models/intermediate/incremental/ say what changed since
   then, in business terms and without reading file names or load times:
     int_incremental__watermarks       the latest event time of every log and the as-of instant, now and at the
                                       previous build; rows dated from the previous latest minus
                                       `incremental_lookback_days` on are new or late (the look-back window);
     int_incremental__record_versions  a fingerprint of every lead, opportunity, lead→opportunity link and user,
                                       now and at the previous build: a record whose content changed is an update;
     int_incremental__changed_leads / int_incremental__changed_opportunities
                                       the entities touched by either.
   Each incremental model then recomputes every row of the affected entities from their whole history and
   replaces them (strategy `replace_affected` below); everything else is kept as it was. #}


{# Rows of the logs dated at or after this instant are re-read by an incremental build. Before any previous build
   (no watermark yet) every row is. #}
{% macro incremental_window_start(source_name) -%}
    coalesce(
        (select window_start_at from {{ ref('int_incremental__watermarks') }} where source_name = '{{ source_name }}'),
        {{ cl_minus_infinity('timestamp') }}
    )
{%- endmacro %}


{# The as-of instant of the previous build (null before any) and of this one. #}
{% macro incremental_previous_as_of() -%}
    (select previous_high_water_at from {{ ref('int_incremental__watermarks') }} where source_name = 'as_of')
{%- endmacro %}

{% macro incremental_as_of_moved() -%}
    coalesce((
        select previous_high_water_at is distinct from high_water_at
        from {{ ref('int_incremental__watermarks') }}
        where source_name = 'as_of'
    ), true)
{%- endmacro %}


{# `column in (keys)` on an incremental run, `true` on a full one: the filter every input CTE of an incremental
   model puts on its entity key. The comment marks the compiled SQL of a run that really was incremental.
   A unit test has no relation of its own (`this` is none): it always builds the model in full. #}
{% macro is_incremental_run() -%}
    {{ return(this is not none and is_incremental()) }}
{%- endmacro %}

{% macro incremental_only(column, keys_macro) -%}
    {%- if is_incremental_run() -%}
        {{ column }} in ({{ context[keys_macro]() }}) /* closedloop: incremental, affected keys only */
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{# The relation a model had in the warehouse this build started from, or none. The change models read the previous
   state this way instead of with ref(), which would make a cycle. #}
{% macro previous_relation(model_name) -%}
    {%- if not execute -%}{{ return(none) }}{%- endif -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ model_name) -%}
    {%- if node is none -%}{{ return(none) }}{%- endif -%}
    {{ return(adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias)) }}
{%- endmacro %}


{# A record's fingerprint: a 64-bit hash of its typed values (nulls included), cheaper than an md5 of their text. #}
{% macro record_fingerprint(cols) -%}
    {{ cl_hash(cols) }}
{%- endmacro %}


{# ------------------------------------------------------------------ affected keys, one macro per entity set #}

{% macro incremental_changed_leads() -%}
    select lead_id from {{ ref('int_incremental__changed_leads') }}
{%- endmacro %}

{% macro incremental_changed_opportunities() -%}
    select opportunity_id from {{ ref('int_incremental__changed_opportunities') }}
{%- endmacro %}

{# Holdings are replayed per lead or account: every changed lead (its close may have moved), and every account with
   an ownership event in the look-back window. #}
{% macro incremental_changed_holding_entities() -%}
    select 'lead' as entity_type, lead_id as entity_id from {{ ref('int_incremental__changed_leads') }}
    union
    select entity_type, entity_id
    from {{ ref('stg_crm__ownership_events') }}
    where entity_type = 'account'
      and entity_id is not null
      and event_at >= {{ incremental_window_start('ownership_events') }}
{%- endmacro %}

{# fct_leads: the changed leads, and the leads whose SLA is still open (not yet answered, window not closed at the
   earlier of the two as-of instants) when the as-of instant moved: pending turns to missed with time alone. #}
{% macro incremental_changed_lead_facts() -%}
    select lead_id from {{ ref('int_incremental__changed_leads') }}
    union
    select lead_id
    from {{ this }}
    where {{ incremental_as_of_moved() }}
      and first_assigned_at is not null
      and first_response_at is null
      and sla_due_at > coalesce(
          least({{ incremental_previous_as_of() }}, (select as_of_at from {{ ref('int_as_of') }})),
          {{ cl_minus_infinity('timestamp') }})
{%- endmacro %}

{# fct_opportunities: the changed opportunities; those whose lead link changed; those whose lead's record changed
   (channel, campaign); and every open one when the as-of instant moved (open_age_days). #}
{% macro incremental_changed_opportunity_facts() -%}
    select opportunity_id from {{ ref('int_incremental__changed_opportunities') }}
    union
    select record_id
    from {{ ref('int_incremental__record_versions') }}
    where record_type = 'opportunity_link' and is_changed
    union
    select opportunity_id
    from {{ ref('int_lead_opportunities') }}
    where lead_id in (
        select record_id from {{ ref('int_incremental__record_versions') }}
        where record_type = 'lead' and is_changed
    )
    union
    select opportunity_id
    from {{ this }}
    where not is_closed and {{ incremental_as_of_moved() }}
{%- endmacro %}


{# ------------------------------------------------------------------ the strategy #}

{# replace_affected: delete every row of every affected key (the keys the macro named by the model's
   `meta.affected_keys` lists, and the keys of the new rows), then insert the new rows. Unlike delete+insert it also removes the rows of an entity
   that now yields fewer rows or none (a deal whose furthest stage moved back, a holding that no longer starts),
   because the keys to delete are listed independently of the rows produced. #}
{% macro get_incremental_replace_affected_sql(arg_dict) %}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set unique_key = arg_dict['unique_key'] -%}
    {%- set keys = [unique_key] if unique_key is string else unique_key -%}
    {%- set key_list = keys | join(', ') -%}
    {%- set affected = (config.get('meta') or {}).get('affected_keys') -%}
    {%- set dest_cols_csv = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- if not unique_key or not affected -%}
        {{ exceptions.raise_compiler_error("replace_affected needs unique_key and meta.affected_keys (a macro name) in " ~ this) }}
    {%- endif %}
    delete from {{ target }}
    where ({{ key_list }}) in (select {{ key_list }} from {{ source }})
       or ({{ key_list }}) in ({{ context[affected]() }});

    insert into {{ target }} ({{ dest_cols_csv }})
    select {{ dest_cols_csv }} from {{ source }}
{% endmacro %}


{# ------------------------------------------------------------------ fct_lead_flow_daily #}

{# The flow dates of one fct_leads row, as fct_lead_flow_daily counts them (`p` prefixes the columns). #}
{% macro lead_flow_dates(p) -%}
    {%- set dates = [
        "cast(" ~ p ~ "created_at as date)",
        "cast(" ~ p ~ "first_assigned_at as date)",
        "cast(" ~ p ~ "first_response_at as date)",
        "cast(" ~ p ~ "mql_at as date)",
        "cast(" ~ p ~ "sql_at as date)",
        "case when " ~ p ~ "final_status = 'converted' then cast(" ~ p ~ "converted_at as date) end",
        "case when " ~ p ~ "final_status = 'disqualified' then cast(" ~ p ~ "disqualified_at as date) end",
        "case when " ~ p ~ "final_status <> 'open' then cast(coalesce(" ~ p ~ "closed_at, " ~ p ~ "created_at) as date) end",
    ] -%}
    {{ return(dates) }}
{%- endmacro %}

{# The first day whose counts an incremental build of fct_lead_flow_daily must redo: the earliest of
   - the day after the previous and the current as-of day (new days; and the counts stop at as_of),
   - the first day of the ownership events' look-back window (new and late assigned / claimed / released),
   - for every changed lead, each flow date that moved (its old and its new date), or every flow date it has, old
     and new, ownership events included, when its department or channel changed or it is new or gone.
   Days before it hold the same counts in a full rebuild, so they and their running backlog are kept. #}
{% macro incremental_lead_flow_cutoff() -%}
    {%- set old = lead_flow_dates('changed.previous_') -%}
    {%- set new = lead_flow_dates('new_facts.') -%}
    with changed as (

        select * from {{ ref('int_incremental__changed_leads') }}

    ),

    new_facts as (

        select * from {{ ref('fct_leads') }}
        where lead_id in (select lead_id from changed)

    ),

    ownership_dates as (

        select entity_id as lead_id, min(cast(event_at as date)) as first_event_date
        from {{ ref('stg_crm__ownership_events') }}
        where entity_type = 'lead'
          and event_type in ('assigned', 'claimed', 'released')
          and entity_id in (select lead_id from changed)
        group by entity_id

    ),

    lead_cutoffs as (

        select
            case
                when not changed.had_previous_fact
                    or new_facts.lead_id is null
                    or changed.previous_department_id is distinct from new_facts.department_id
                    or changed.previous_channel is distinct from new_facts.channel
                then least({{ (old + new) | join(', ') }}, ownership_dates.first_event_date)
                else least(
                    {%- for i in range(old | length) %}
                    case when {{ old[i] }} is distinct from {{ new[i] }} then least({{ old[i] }}, {{ new[i] }}) end
                    {%- if not loop.last %},{% endif %}
                    {%- endfor %}
                )
            end as cutoff_date
        from changed
        left join new_facts
            on changed.lead_id = new_facts.lead_id
        left join ownership_dates
            on changed.lead_id = ownership_dates.lead_id

    )

    select least(
        (select min(cutoff_date) from lead_cutoffs),
        cast({{ incremental_window_start('ownership_events') }} as date),
        cast({{ incremental_previous_as_of() }} as date) + 1,
        (select as_of_date from {{ ref('int_as_of') }}) + 1
    ) as cutoff_date
{%- endmacro %}

{% macro incremental_lead_flow_days() -%}
    select distinct flow_date
    from {{ this }}
    where flow_date >= ({{ incremental_lead_flow_cutoff() }})
{%- endmacro %}
