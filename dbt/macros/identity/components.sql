{#- Connected components of the identity graph (int_identity__identifiers). The graph's
    CTEs end in `nodes` (node_id, label, identifier, first_seen_on) and `undirected_edges`
    (from_node, to_node); every node ends with the smallest label of its component, and the
    node holding that label anchors the customer. The label orders nodes by first delivery
    day, then by the lower 64 bits of the identifier's MD5, so the anchor is the earliest
    identifier, the same on every engine. -#}

{#- A node's id in the graph: a 64-bit hash of the identifier (internal to the model). -#}
{% macro identity_node_id(identifier) -%}
    {{ return(adapter.dispatch('identity_node_id')(identifier)) }}
{%- endmacro %}
{% macro default__identity_node_id(identifier) -%} hash({{ identifier }}) {%- endmacro %}
{% macro spark__identity_node_id(identifier) -%} xxhash64({{ identifier }}) {%- endmacro %}

{#- (first delivery day, MD5's lower 64 bits) as one sortable value. DuckDB: a number,
    days x 2^64 + md5_number_lower. Spark: the same pair as fixed-width text that sorts the
    same way: the day zero-padded, then md5_number_lower in hexadecimal (DuckDB reads bytes
    9 to 16 of the digest as a little-endian integer, so their hex pairs are reversed). -#}
{% macro identity_label(first_seen_on, identifier) -%}
    {{ return(adapter.dispatch('identity_label')(first_seen_on, identifier)) }}
{%- endmacro %}
{% macro default__identity_label(first_seen_on, identifier) -%}
    cast({{ dbt.datediff("cast('1970-01-01' as date)", first_seen_on, 'day') }} as uhugeint)
        * cast(18446744073709551616 as uhugeint) + md5_number_lower({{ identifier }})
{%- endmacro %}
{% macro spark__identity_label(first_seen_on, identifier) -%}
    concat(
        lpad(cast(datediff({{ first_seen_on }}, date'1970-01-01') as string), 8, '0'),
        {%- for byte in range(7, -1, -1) %}
        substr(md5({{ identifier }}), {{ 17 + 2 * byte }}, 2){% if not loop.last %},{% endif %}
        {%- endfor %}
    )
{%- endmacro %}

{% macro identity_with_clause() -%}
    {{ return(adapter.dispatch('identity_with_clause')()) }}
{%- endmacro %}
{% macro default__identity_with_clause() -%} with {%- endmacro %}
{% macro duckdb__identity_with_clause() -%} with recursive {%- endmacro %}

{#- The CTEs `identifiers`, `hubs`, `nodes` and `components` (node_id, label), from the
    model's CTEs up to `hubs` (`identifier_ctes`) and from `linking_sets` to `nodes`
    (`linking_ctes`). -#}
{% macro identity_graph(identifier_ctes, linking_ctes) -%}
    {{ return(adapter.dispatch('identity_graph')(identifier_ctes, linking_ctes)) }}
{%- endmacro %}

{#- DuckDB: one recursive CTE; USING KEY keeps one row per node, lowered as labels flow. -#}
{% macro duckdb__identity_graph(identifier_ctes, linking_ctes) -%}
{{ identifier_ctes }},

{{ linking_ctes }},

components (node_id, label) using key (node_id) as (

    select node_id, label from nodes

    union

    select
        undirected_edges.to_node as node_id,
        min(components.label) as label
    from components
    inner join undirected_edges on undirected_edges.from_node = components.node_id
    inner join recurring.components as known on known.node_id = undirected_edges.to_node
    group by undirected_edges.to_node, known.label
    having min(components.label) < known.label

)
{%- endmacro %}

{#- Spark: a recursive CTE cannot aggregate, so labels propagate in rounds outside one
    statement, each round a table (`<model>__round_<n>`): a node takes the smallest label
    among its own and its neighbours'. It stops when a round changes no label; the rounds,
    with the labels each changed, are kept in `<model>__propagation`, the settled labels in
    `<model>__components`. Spark inlines a CTE wherever it is referenced, so the graph's
    stages (identifiers, hubs, nodes, edges) are tables too. All of it runs while the model
    executes (dbt run or build, never compile). -#}
{% macro spark__identity_graph(identifier_ctes, linking_ctes) -%}
    {%- set prefix = this.schema ~ '.' ~ this.identifier -%}
    {%- if execute and flags.WHICH in ('run', 'build') and model.unique_id in selected_resources -%}
        {%- set max_rounds = var('identity_max_propagation_rounds', 200) -%}
        {%- do _spark_replace_table(prefix ~ '__identifiers', 'with ' ~ identifier_ctes ~ ' select * from identifiers') -%}
        {%- do _spark_replace_table(prefix ~ '__hubs', 'with ' ~ identifier_ctes ~ ' select * from hubs') -%}
        {%- set stored -%}
            identifier_sets as (select * from {{ ref('int_identity__identifier_sets') }}),
            identifiers as (select * from {{ prefix }}__identifiers),
            hubs as (select * from {{ prefix }}__hubs),
            {{ linking_ctes }}
        {%- endset -%}
        {%- do _spark_replace_table(prefix ~ '__nodes', 'with ' ~ stored ~ ' select * from nodes') -%}
        {%- do _spark_replace_table(prefix ~ '__edges', 'with ' ~ stored ~ ' select distinct from_node, to_node from undirected_edges') -%}
        {%- do _spark_replace_table(prefix ~ '__round_0', 'select node_id, label from ' ~ prefix ~ '__nodes') -%}
        {%- set rounds = [] -%}
        {#- Jinja has no break: once a round has changed nothing, the rest do nothing -#}
        {%- for round in range(1, max_rounds + 1) -%}
            {%- if rounds | length == round - 1 and (rounds | length == 0 or rounds[-1][1] > 0) -%}
                {%- set previous = prefix ~ '__round_' ~ (round - 1) -%}
                {%- do _spark_replace_table(prefix ~ '__round_' ~ round,
                    'select nodes.node_id, least(nodes.label, coalesce(min(neighbours.label), nodes.label)) as label '
                    ~ 'from ' ~ previous ~ ' as nodes '
                    ~ 'left join ' ~ prefix ~ '__edges as edges on edges.from_node = nodes.node_id '
                    ~ 'left join ' ~ previous ~ ' as neighbours on neighbours.node_id = edges.to_node '
                    ~ 'group by nodes.node_id, nodes.label') -%}
                {%- set changed = run_query(
                    'select count(*) from ' ~ previous ~ ' as before inner join ' ~ prefix ~ '__round_' ~ round
                    ~ ' as after on after.node_id = before.node_id where after.label <> before.label'
                ).columns[0].values()[0] -%}
                {%- do rounds.append((round, changed)) -%}
                {%- do run_query('drop table if exists ' ~ previous) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if rounds[-1][1] > 0 -%}
            {{ exceptions.raise_compiler_error(
                "identity: labels still changed after " ~ max_rounds ~ " rounds of propagation "
                ~ "(var identity_max_propagation_rounds)") }}
        {%- endif -%}
        {%- do run_query('drop table if exists ' ~ prefix ~ '__components') -%}
        {%- do run_query('alter table ' ~ prefix ~ '__round_' ~ rounds[-1][0] ~ ' rename to ' ~ prefix ~ '__components') -%}
        {%- set values_sql = [] -%}
        {%- for round, changed in rounds -%}
            {%- do values_sql.append('(' ~ round ~ ', ' ~ changed ~ ')') -%}
        {%- endfor -%}
        {%- do _spark_replace_table(prefix ~ '__propagation',
            'select * from values ' ~ values_sql | join(', ') ~ ' as rounds(round, changed_labels)') -%}
        {%- do log('identity: labels settled after ' ~ (rounds | length) ~ ' rounds of propagation', info=true) -%}
    {%- endif %}
identifiers as (select * from {{ prefix }}__identifiers),
hubs as (select * from {{ prefix }}__hubs),
nodes as (select * from {{ prefix }}__nodes),
components as (select node_id, label from {{ prefix }}__components)
{%- endmacro %}

{% macro _spark_replace_table(name, sql) -%}
    {%- do run_query('drop table if exists ' ~ name) -%}
    {%- do run_query('create table ' ~ name ~ ' using parquet as ' ~ sql) -%}
{%- endmacro %}
