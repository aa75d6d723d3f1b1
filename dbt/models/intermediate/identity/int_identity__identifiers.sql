{{ config(materialized='table') }}

-- Identity resolution: every identifier mapped to one customer_id (see the yml for the
-- rules and the stability guarantee).
--
-- Graph: nodes are identifiers; identifiers seen together on a record are linked. Each
-- identifier set contributes a star from one of its identifiers (the first non-hub one in
-- the order crm, shop, loyalty, e-mails, phones), so edges grow linearly with the data.
-- Components come from label propagation in a recursive CTE: every node starts with its
-- own number and repeatedly takes the smallest label among its neighbours until nothing
-- changes. `USING KEY` keeps one row per node, so each round only touches nodes whose
-- label just changed.
--
-- Nodes are numbered in (first delivery day, identifier) order, so a component converges
-- to its earliest-seen identifier, the anchor; customer_id is a hash of the anchor.
{%- set identifier_columns = [
    ('crm_identifier', 'crm'),
    ('shop_identifier', 'shop'),
    ('loyalty_identifier', 'loyalty'),
    ('email_identifier_1', 'email'),
    ('email_identifier_2', 'email'),
    ('phone_identifier_1', 'phone'),
    ('phone_identifier_2', 'phone'),
] %}
{%- set linker_columns = ['email_identifier_1', 'email_identifier_2', 'phone_identifier_1', 'phone_identifier_2'] %}
{%- set account_columns = [('crm_identifier', 'crm'), ('shop_identifier', 'shop'), ('loyalty_identifier', 'loyalty')] %}

with recursive

identifier_sets as (

    select * from {{ ref('int_identity__identifier_sets') }}

),

occurrences as (

    {% for column, kind in identifier_columns -%}
    select {{ column }} as identifier, '{{ kind }}' as identifier_type, first_seen_on, last_seen_on
    from identifier_sets where {{ column }} is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

identifiers as (

    select
        identifier,
        min(identifier_type) as identifier_type,
        min(first_seen_on) as first_seen_on,
        max(last_seen_on) as last_seen_on,
        count(*) as identifier_set_count
    from occurrences
    group by 1

),

account_links as (

    -- every (phone or e-mail, account) pair seen together
    {% for linker in linker_columns -%}
    {% set outer_loop = loop -%}
    {% for account, kind in account_columns -%}
    select {{ linker }} as identifier, '{{ kind }}' as account_type, {{ account }} as account
    from identifier_sets where {{ linker }} is not null and {{ account }} is not null
    {% if not (outer_loop.last and loop.last) %}union all{% endif %}
    {% endfor -%}
    {% endfor %}

),

hubs as (

    select identifier, max(account_count) as max_accounts_of_one_kind
    from (
        select identifier, account_type, count(distinct account) as account_count
        from account_links
        group by 1, 2
    ) as per_kind
    group by 1
    having max(account_count) > {{ var('identity_max_accounts_per_identifier') }}

),

linking_sets as (

    -- the sets with hubs blanked: a hub links nobody
    select
        crm_identifier,
        shop_identifier,
        loyalty_identifier,
        {% for linker in linker_columns -%}
        case when {{ linker }} in (select identifier from hubs) then null else {{ linker }} end
            as {{ linker }}{% if not loop.last %},{% endif %}
        {% endfor %}
    from identifier_sets

),

centered as (

    select
        *,
        coalesce(
            {%- for column, kind in identifier_columns %}
            {{ column }}{% if not loop.last %},{% endif %}
            {%- endfor %}
        ) as center
    from linking_sets

),

star_edges as (

    {% for column, kind in identifier_columns[1:] -%}
    select center, {{ column }} as other
    from centered where {{ column }} is not null and {{ column }} <> center
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

nodes as (

    select
        identifiers.identifier,
        identifiers.first_seen_on,
        row_number() over (order by identifiers.first_seen_on, identifiers.identifier) as node_id
    from identifiers
    where identifiers.identifier not in (select identifier from hubs)

),

edges as (

    select distinct
        centers.node_id as node_a,
        others.node_id as node_b
    from star_edges
    inner join nodes as centers on centers.identifier = star_edges.center
    inner join nodes as others on others.identifier = star_edges.other

),

undirected_edges as (

    select node_a as from_node, node_b as to_node from edges
    union all
    select node_b as from_node, node_a as to_node from edges

),

components (node_id, label) using key (node_id) as (

    select node_id, node_id as label from nodes

    union

    select
        undirected_edges.to_node as node_id,
        min(components.label) as label
    from components
    inner join undirected_edges on undirected_edges.from_node = components.node_id
    inner join recurring.components as known on known.node_id = undirected_edges.to_node
    group by undirected_edges.to_node, known.label
    having min(components.label) < known.label

),

anchored as (

    select
        components.node_id,
        anchors.identifier as anchor_identifier,
        anchors.first_seen_on as anchor_first_seen_on
    from components
    inner join nodes as anchors on anchors.node_id = components.label

),

final as (

    select
        identifiers.identifier,
        identifiers.identifier_type,
        substr(identifiers.identifier, length(identifiers.identifier_type) + 2) as identifier_value,
        identifiers.first_seen_on,
        identifiers.last_seen_on,
        identifiers.identifier_set_count,
        hubs.identifier is not null as is_hub,
        hubs.max_accounts_of_one_kind as hub_account_count,
        case when anchored.anchor_identifier is not null
            then {{ short_hash(['anchored.anchor_identifier']) }}
        end as customer_id,
        anchored.anchor_identifier,
        anchored.anchor_first_seen_on
    from identifiers
    left join hubs on hubs.identifier = identifiers.identifier
    left join nodes on nodes.identifier = identifiers.identifier
    left join anchored on anchored.node_id = nodes.node_id

)

select * from final
