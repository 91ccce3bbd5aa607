{# Identity resolution (models/intermediate/identity/, docs/metrics.md "One person across channels").
   Both macros dispatch: DuckDB has a one-statement form, every other adapter (Spark) gets portable SQL. #}


{# True when `value` matches `pattern` as a whole (the identity_blocklist seed's patterns are whole-value
   regular expressions, so `test@.*` never blocks `contest@x.com`). #}
{% macro cl_regex_full_match(value, pattern) -%}
    {{ return(adapter.dispatch('cl_regex_full_match', 'closedloop')(value, pattern)) }}
{%- endmacro %}

{% macro default__cl_regex_full_match(value, pattern) -%}
    ({{ value }} rlike concat('^(?:', {{ pattern }}, ')$'))
{%- endmacro %}

{% macro duckdb__cl_regex_full_match(value, pattern) -%}
    regexp_full_match({{ value }}, {{ pattern }})
{%- endmacro %}


{# The reason of the first row of the blocklist seed whose pattern matches the identifier, else null: one CASE with
   the seed's rows as constants, read from the seed when the model runs (a join on a pattern column would compile
   every pattern once per row: 18 s for 1.5M identifiers at scale 10, against well under a second). #}
{% macro cl_blocklist_reason(blocklist, type_column, value_column) -%}
    {%- if not execute -%}
        cast(null as {{ dbt.type_string() }})
    {%- else -%}
        {%- set rows = run_query('select identifier_type, pattern, reason from ' ~ blocklist
                                 ~ ' where pattern is not null order by identifier_type, reason, pattern').rows -%}
        {%- if rows | length == 0 -%}
            cast(null as {{ dbt.type_string() }})
        {%- else -%}
            case
            {%- for row in rows %}
                when {{ type_column }} = {{ cl_string_literal(row[0]) }}
                    and {{ cl_regex_full_match(value_column, cl_string_literal(row[1])) }}
                    then {{ cl_string_literal(row[2]) }}
            {%- endfor %}
            end
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{# Connected components of an undirected graph, to the true fixed point.

   `edges` is a relation with bigint columns node_a, node_b (every node appears in at least one row; a
   self-edge is how a lone node is listed). Returns the SQL of a select of (node_id, component_id), the
   component being the smallest node id in it. Labels only ever decrease, so the propagation ends; a cap on
   rounds (var identity_max_rounds) still bounds a pathological graph, and reaching it fails the build with a
   message (the data test identity_components_converged checks the fixed point on every build as well): it
   never stops early with half-merged people, and never after a fixed number of rounds that is "usually enough".
   Var identity_components_method: `iterative` (the portable loop: every statement can spill, so it is the
   default; the DuckDB test suite checks the form Spark runs) or `auto` (the adapter's own form: DuckDB's recursive
   statement holds its working tables in memory, 8 GB were not enough at scale 1000).

   Both forms propagate over a compacted graph (cl_components_core): self-edges only list nodes, and a leaf (a
   node with one edge, most identifiers of the identity graph) cannot join anything, so it only lends its id to
   its neighbour's starting label and takes its neighbour's final label (cl_components_labelled). Half the nodes
   of the identity graph are leaves: the rounds then run over half the edges. #}
{% macro cl_connected_components(edges) -%}
    {%- if var('identity_components_method', 'auto') == 'iterative' -%}
        {{ return(default__cl_connected_components(edges)) }}
    {%- endif -%}
    {{ return(adapter.dispatch('cl_connected_components', 'closedloop')(edges)) }}
{%- endmacro %}


{# The CTEs every form starts from: `directed` (each edge both ways, self-edges left out), `neighbourhood` (per
   node with an edge: how many it has, its smallest neighbour and its starting label, the least of its own id and
   its neighbours'), and `core_edges` (the edges between nodes of more than one edge). #}
{% macro cl_components_core(edges) -%}
    directed as (

        select node_a as src, node_b as dst from {{ edges }} where node_a <> node_b
        union all
        select node_b as src, node_a as dst from {{ edges }} where node_a <> node_b

    ),

    neighbourhood as (

        select src as node_id, count(*) as degree, min(dst) as first_neighbour, least(src, min(dst)) as start_label
        from directed
        group by src

    ),

    core_edges as (

        select directed.src, directed.dst
        from directed
        inner join neighbourhood as src_node on src_node.node_id = directed.src and src_node.degree > 1
        inner join neighbourhood as dst_node on dst_node.node_id = directed.dst and dst_node.degree > 1

    )
{%- endmacro %}


{# Every node of `edges` with its component, from the core's final `labels` (node_id, component_id): a core node
   its own label, a leaf its neighbour's (or, when the neighbour is a leaf too, the pair's smaller id), a lone
   node itself. Needs the CTEs of cl_components_core. #}
{% macro cl_components_labelled(edges, labels) -%}
    select
        nodes.node_id,
        coalesce(core.component_id, hub.component_id, neighbourhood.start_label, nodes.node_id) as component_id
    from (select node_a as node_id from {{ edges }} union select node_b from {{ edges }}) as nodes
    left join neighbourhood
        on neighbourhood.node_id = nodes.node_id
    left join {{ labels }} as core
        on core.node_id = nodes.node_id
    left join {{ labels }} as hub
        on hub.node_id = neighbourhood.first_neighbour
        and neighbourhood.degree = 1
{%- endmacro %}


{# DuckDB: one recursive statement. With USING KEY the recursive table keeps one row per node, updated in
   place, and each round only looks at the nodes whose label changed in the round before. #}
{% macro duckdb__cl_connected_components(edges) -%}
    {%- set max_rounds = var('identity_max_rounds') | int -%}
    with recursive {{ cl_components_core(edges) }},

    labels (node_id, component_id, round) using key (node_id) as (

        select node_id, start_label as component_id, 0 as round
        from neighbourhood
        where degree > 1

        union

        select core_edges.dst, min(labels.component_id), max(labels.round) + 1
        from labels
        inner join core_edges
            on core_edges.src = labels.node_id
        inner join recurring.labels as current_labels
            on current_labels.node_id = core_edges.dst
        where labels.round < {{ max_rounds }}
        group by core_edges.dst
        having min(labels.component_id) < min(current_labels.component_id)

    ),

    unconverged as (

        -- a label still differing across an edge after the last round: the cap was reached
        select count(*) as edges_left
        from core_edges
        inner join labels as src_labels on src_labels.node_id = core_edges.src
        inner join labels as dst_labels on dst_labels.node_id = core_edges.dst
        where src_labels.component_id <> dst_labels.component_id

    ),

    labelled as (

        {{ cl_components_labelled(edges, 'labels') }}

    )

    select labelled.node_id, labelled.component_id
    from labelled
    cross join unconverged
    where case
        when unconverged.edges_left = 0 then true
        else error('identity resolution did not reach its fixed point within var identity_max_rounds = '
                   || '{{ max_rounds }} rounds (' || cast(unconverged.edges_left as string)
                   || ' edges still join different labels); raise the var and build again')
    end
{%- endmacro %}


{# Any adapter: the same min-label propagation over the core as a loop of plain statements, each round writing a
   table, with pointer jumping (a node also takes its label's label) so long chains close in about log(length)
   rounds. It stops when a round changes nothing; a round count reaching identity_max_rounds raises a compiler
   error. The core's edges are written once; the round tables live beside the model and are dropped as the loop
   goes. #}
{% macro default__cl_connected_components(edges) -%}
    {%- set max_rounds = var('identity_max_rounds') | int -%}
    {%- set base = this.identifier ~ '__round' -%}
    {#- the loop writes tables as it compiles: only a build or run does it (`docs generate` compiles every model) -#}
    {%- if not execute or flags.WHICH not in ('build', 'run') -%}
        {{ return('select cast(null as bigint) as node_id, cast(null as bigint) as component_id') }}
    {%- endif -%}
    {%- set core = this.incorporate(path={'identifier': base ~ '_core'}) -%}
    {%- set first = this.incorporate(path={'identifier': base ~ '_0'}) -%}
    {%- do run_query('drop table if exists ' ~ core) -%}
    {%- do run_query('create table ' ~ core ~ ' as with ' ~ cl_components_core(edges)
                     ~ ' select src, dst from core_edges') -%}
    {%- do run_query('drop table if exists ' ~ first) -%}
    {%- do run_query('create table ' ~ first ~ ' as with ' ~ cl_components_core(edges)
                     ~ ' select node_id, start_label as component_id from neighbourhood where degree > 1') -%}
    {%- set state = namespace(current=first, done=false, rounds=0) -%}
    {%- for round in range(1, max_rounds + 1) -%}
        {%- if not state.done -%}
            {%- set nxt = this.incorporate(path={'identifier': base ~ '_' ~ round}) -%}
            {%- do run_query('drop table if exists ' ~ nxt) -%}
            {%- do run_query(
                'create table ' ~ nxt ~ ' as '
                ~ 'with neighbour_min as ('
                ~ ' select d.dst as node_id, min(l.component_id) as component_id'
                ~ ' from ' ~ core ~ ' d inner join ' ~ state.current ~ ' l on l.node_id = d.src'
                ~ ' group by d.dst), '
                ~ 'hooked as ('
                ~ ' select l.node_id, least(l.component_id, coalesce(n.component_id, l.component_id)) as component_id'
                ~ ' from ' ~ state.current ~ ' l left join neighbour_min n on n.node_id = l.node_id) '
                ~ 'select hooked.node_id, least(hooked.component_id, coalesce(parent.component_id, hooked.component_id))'
                ~ ' as component_id'
                ~ ' from hooked left join hooked parent on parent.node_id = hooked.component_id') -%}
            {%- set changed = run_query('select count(*) from ' ~ nxt ~ ' n inner join ' ~ state.current
                                        ~ ' c on c.node_id = n.node_id where c.component_id <> n.component_id') -%}
            {%- do run_query('drop table if exists ' ~ state.current) -%}
            {%- set state.current = nxt -%}
            {%- set state.rounds = round -%}
            {%- if changed.columns[0].values()[0] == 0 -%}{%- set state.done = true -%}{%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do run_query('drop table if exists ' ~ core) -%}
    {%- if not state.done -%}
        {%- do run_query('drop table if exists ' ~ state.current) -%}
        {{ exceptions.raise_compiler_error('identity resolution did not reach its fixed point within var '
            ~ 'identity_max_rounds = ' ~ max_rounds ~ ' rounds; raise the var and build again') }}
    {%- endif -%}
    {#- a fixed name, so the model's post-hook (cl_drop_component_rounds) can drop it once the model is built -#}
    {%- set final = this.incorporate(path={'identifier': base ~ '_final'}) -%}
    {%- do run_query('drop table if exists ' ~ final) -%}
    {%- do run_query('create table ' ~ final ~ ' as with ' ~ cl_components_core(edges) ~ ' '
                     ~ cl_components_labelled(edges, state.current)) -%}
    {%- do run_query('drop table if exists ' ~ state.current) -%}
    select node_id, component_id from {{ final }}
{%- endmacro %}


{# Post-hook of the model that calls cl_connected_components: the portable loop's last round table. #}
{% macro cl_drop_component_rounds() -%}
    drop table if exists {{ this.incorporate(path={'identifier': this.identifier ~ '__round_final'}) }}
{%- endmacro %}


{# A person's id from the key that founds it ("type:value" of its earliest identifier, or "touch:<id>" for a
   touch with no usable identifier): short, stable, and the same on every engine (md5 through dbt.hash). #}
{% macro cl_person_id(founding_key) -%}
    'p-' || substr({{ dbt.hash(founding_key) }}, 1, 16)
{%- endmacro %}


{# The records identity reads and the identifier columns each carries: one list, so the observations (one row per
   record × identifier) and the identifiers' sharing count (pairs of columns of one record, read straight from the
   record: no self-join of the observations) cannot disagree on what a record holds. A record carries at most one
   value per identifier type, since each type is a column of its own. #}
{% macro cl_identity_records() -%}
    {{ return([
        {'record_type': 'touch', 'relation': ref('stg_campaign__touches'), 'id': 'touch_id', 'seen_at': 'touched_at',
         'identifiers': ['anonymous_id', 'device_id', 'wechat_openid', 'wechat_unionid', 'email', 'phone', 'lead_id']},
        {'record_type': 'lead', 'relation': ref('stg_crm__leads'), 'id': 'lead_id', 'seen_at': 'created_at',
         'identifiers': ['lead_id', 'email', 'phone', 'wechat_openid']},
        {'record_type': 'contact', 'relation': ref('stg_crm__contacts'), 'id': 'contact_id', 'seen_at': 'created_at',
         'identifiers': ['contact_id', 'email', 'phone']},
    ]) }}
{%- endmacro %}


{# Columns of a record turned into rows in one pass over it: the record cross-joined with `kinds`, a list of rows
   of column names (each row a list of names, one per entry of `labels`; with one label a kind may be a plain
   name). Each label `x_type` gives two columns: `x_type`, the column's name, and `x_value`, that column's value.
   `extra` are the record's own columns kept alongside. Rows with a null value are left out. One scan per record
   rather than one per column: a union of one select per column re-reads (and re-normalises) the staging view
   each time, 8× slower at scale 100. #}
{% macro cl_unpivot_record(record, labels, kinds, extra=[]) -%}
    select *
    from (
        select
            {%- for column in extra %}
            {{ column }},
            {%- endfor %}
            {%- for label in labels %}
            kinds.{{ label }},
            case kinds.{{ label }}
                {%- for column in record.identifiers %}
                when '{{ column }}' then {{ column }}
                {%- endfor %}
            end as {{ label | replace('_type', '_value') }}{{ ',' if not loop.last }}
            {%- endfor %}
        from {{ record.relation }}
        cross join (
            {%- for kind in kinds %}
            {%- set names = [kind] if kind is string else kind %}
            select {% for label in labels %}'{{ names[loop.index0] }}' as {{ label }}{{ ', ' if not loop.last }}{% endfor %}
            {%- if not loop.last %}
            union all
            {%- endif %}
            {%- endfor %}
        ) as kinds
        where {{ record.id }} is not null
    ) as unpivoted
    where {% for label in labels %}{{ label | replace('_type', '_value') }} is not null{{ ' and ' if not loop.last }}{% endfor %}
{%- endmacro %}
