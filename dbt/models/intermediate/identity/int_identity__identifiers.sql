{{
    config(
        materialized=incremental_materialization(),
        unique_key='identifier',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}

-- The model's rules, method and why its incremental scope is exact are in the yml.
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

{% set identifier_ctes %}
all_sets as (

    select * from {{ ref('int_identity__identifier_sets') }}

),

{% if is_incremental() %}
changed_sets as (

    select * from all_sets
    where {{ loaded_since_last_run() }}

),

touched as (

    {% for column, kind in identifier_columns -%}
    select {{ column }} as identifier from changed_sets where {{ column }} is not null
    {% if not loop.last %}union{% endif %}
    {% endfor %}

),

scope as (

    -- the touched identifiers and every identifier of the customers they belonged to
    select identifier from touched
    union
    select stored.identifier
    from {{ this }} as stored
    where stored.customer_id in (
        select customer_id from {{ this }}
        where identifier in (select identifier from touched) and customer_id is not null
    )

),

identifier_sets as (

    -- every set holding an identifier in scope
    select * from all_sets
    where {% for column, kind in identifier_columns -%}
        {{ column }} in (select identifier from scope)
        {%- if not loop.last %}
        or {% endif %}
    {%- endfor %}

),

known_hubs as (

    -- hubs outside the scope can sit on the scope's sets; they stay hubs
    select identifier, hub_account_count as max_accounts_of_one_kind
    from {{ this }}
    where is_hub and identifier not in (select identifier from scope)

),
{% else %}
identifier_sets as (

    select * from all_sets

),
{% endif %}

occurrences as (

    {% for column, kind in identifier_columns -%}
    select {{ column }} as identifier, '{{ kind }}' as identifier_type, first_seen_on, last_seen_on,
        _loaded_at
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
        count(*) as identifier_set_count,
        max(_loaded_at) as _loaded_at,
        {{ identity_node_id('identifier') }} as node_id
    from occurrences
    {% if is_incremental() -%}
    -- a hub outside the scope is on some of these sets only: its row stays as stored
    where identifier in (select identifier from scope)
    {% endif -%}
    group by 1

),

hub_candidates as (

    -- only a phone or e-mail seen in more identifier sets than the limit can be shared by
    -- more accounts than the limit: count accounts for those few only
    select identifier
    from identifiers
    where identifier_type in ('phone', 'email')
        and identifier_set_count > {{ var('identity_max_accounts_per_identifier') }}

),

account_links as (

    -- every (phone or e-mail, account) pair seen together
    {% for linker in linker_columns -%}
    {% set outer_loop = loop -%}
    {% for account, kind in account_columns -%}
    select {{ linker }} as identifier, '{{ kind }}' as account_type, {{ account }} as account
    from identifier_sets
    where {{ account }} is not null
        and {{ linker }} in (select identifier from hub_candidates)
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
    {% if is_incremental() -%}
    union all
    select identifier, max_accounts_of_one_kind from known_hubs
    {% endif %}
)
{% endset %}

{% set linking_ctes %}
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

edges as (

    select distinct
        {{ identity_node_id('center') }} as node_a,
        {{ identity_node_id('other') }} as node_b
    from star_edges

),

undirected_edges as (

    select node_a as from_node, node_b as to_node from edges
    union all
    select node_b as from_node, node_a as to_node from edges

),

nodes as (

    select
        node_id,
        {{ identity_label('first_seen_on', 'identifier') }} as label,
        identifier,
        first_seen_on
    from identifiers
    where identifier not in (select identifier from hubs)

)
{% endset %}

{{ identity_with_clause() }}
{{ identity_graph(identifier_ctes, linking_ctes) }},

anchored as (

    select
        components.node_id,
        anchors.identifier as anchor_identifier,
        anchors.first_seen_on as anchor_first_seen_on
    from components
    inner join nodes as anchors on anchors.label = components.label

),

final as (

    select
        identifiers.identifier,
        identifiers.identifier_type,
        substr(identifiers.identifier, length(identifiers.identifier_type) + 2) as identifier_value,
        identifiers.node_id,
        identifiers.first_seen_on,
        identifiers.last_seen_on,
        identifiers.identifier_set_count,
        hubs.identifier is not null as is_hub,
        hubs.max_accounts_of_one_kind as hub_account_count,
        case when anchored.anchor_identifier is not null
            then {{ short_hash(['anchored.anchor_identifier']) }}
        end as customer_id,
        anchored.anchor_identifier,
        anchored.anchor_first_seen_on,
        identifiers._loaded_at,
        current_timestamp::timestamp as _built_at
    from identifiers
    left join hubs on hubs.identifier = identifiers.identifier
    left join anchored on anchored.node_id = identifiers.node_id

)

select * from final
