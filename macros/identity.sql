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
   Var identity_components_method: `auto` (the adapter's own form) or `iterative` (the portable loop, so the
   DuckDB test suite checks the form Spark runs). #}
{% macro cl_connected_components(edges) -%}
    {%- if var('identity_components_method', 'auto') == 'iterative' -%}
        {{ return(default__cl_connected_components(edges)) }}
    {%- endif -%}
    {{ return(adapter.dispatch('cl_connected_components', 'closedloop')(edges)) }}
{%- endmacro %}


{# DuckDB: one recursive statement. With USING KEY the recursive table keeps one row per node, updated in
   place, and each round only looks at the nodes whose label changed in the round before. #}
{% macro duckdb__cl_connected_components(edges) -%}
    {%- set max_rounds = var('identity_max_rounds') | int -%}
    with recursive directed as (

        select node_a as src, node_b as dst from {{ edges }}
        union all
        select node_b as src, node_a as dst from {{ edges }}

    ),

    labels (node_id, component_id, round) using key (node_id) as (

        select src as node_id, min(least(src, dst)) as component_id, 0 as round
        from directed
        group by src

        union

        select directed.dst, min(labels.component_id), max(labels.round) + 1
        from labels
        inner join directed
            on directed.src = labels.node_id
        inner join recurring.labels as current_labels
            on current_labels.node_id = directed.dst
        where labels.round < {{ max_rounds }}
        group by directed.dst
        having min(labels.component_id) < min(current_labels.component_id)

    ),

    unconverged as (

        -- a label still differing across an edge after the last round: the cap was reached
        select count(*) as edges_left
        from directed
        inner join labels as src_labels on src_labels.node_id = directed.src
        inner join labels as dst_labels on dst_labels.node_id = directed.dst
        where src_labels.component_id <> dst_labels.component_id

    )

    select labels.node_id, labels.component_id
    from labels
    cross join unconverged
    where case
        when unconverged.edges_left = 0 then true
        else error('identity resolution did not reach its fixed point within var identity_max_rounds = '
                   || '{{ max_rounds }} rounds (' || cast(unconverged.edges_left as string)
                   || ' edges still join different labels); raise the var and build again')
    end
{%- endmacro %}


{# Any adapter: the same min-label propagation as a loop of plain statements, each round writing a table, with
   pointer jumping (a node also takes its label's label) so long chains close in about log(length) rounds. It
   stops when a round changes nothing; a round count reaching identity_max_rounds raises a compiler error. The
   round tables live beside the model and are dropped as the loop goes. #}
{% macro default__cl_connected_components(edges) -%}
    {%- set max_rounds = var('identity_max_rounds') | int -%}
    {%- set base = this.identifier ~ '__round' -%}
    {%- if not execute -%}
        {{ return('select cast(null as bigint) as node_id, cast(null as bigint) as component_id') }}
    {%- endif -%}
    {%- set directed -%}
        (select node_a as src, node_b as dst from {{ edges }} union all select node_b, node_a from {{ edges }})
    {%- endset -%}
    {%- set first = this.incorporate(path={'identifier': base ~ '_0'}) -%}
    {%- do run_query('drop table if exists ' ~ first) -%}
    {%- do run_query('create table ' ~ first ~ ' as select src as node_id, min(least(src, dst)) as component_id from '
                     ~ directed ~ ' d group by src') -%}
    {%- set state = namespace(current=first, done=false, rounds=0) -%}
    {%- for round in range(1, max_rounds + 1) -%}
        {%- if not state.done -%}
            {%- set nxt = this.incorporate(path={'identifier': base ~ '_' ~ round}) -%}
            {%- do run_query('drop table if exists ' ~ nxt) -%}
            {%- do run_query(
                'create table ' ~ nxt ~ ' as '
                ~ 'with neighbour_min as ('
                ~ ' select d.dst as node_id, min(l.component_id) as component_id'
                ~ ' from ' ~ directed ~ ' d inner join ' ~ state.current ~ ' l on l.node_id = d.src'
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
    {%- if not state.done -%}
        {%- do run_query('drop table if exists ' ~ state.current) -%}
        {{ exceptions.raise_compiler_error('identity resolution did not reach its fixed point within var '
            ~ 'identity_max_rounds = ' ~ max_rounds ~ ' rounds; raise the var and build again') }}
    {%- endif -%}
    {#- a fixed name, so the model's post-hook (cl_drop_component_rounds) can drop it once the model is built -#}
    {%- set final = this.incorporate(path={'identifier': base ~ '_final'}) -%}
    {%- do run_query('drop table if exists ' ~ final) -%}
    {%- do run_query('create table ' ~ final ~ ' as select node_id, component_id from ' ~ state.current) -%}
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
