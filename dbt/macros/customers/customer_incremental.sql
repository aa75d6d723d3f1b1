{#- The incremental pattern of the per-customer models: one or more rows per customer_id,
    rebuilt by delete + insert for the customers an upstream model wrote since this model's
    last build. A full refresh or first build computes every customer and gives the same
    rows. -#}

{#- The model's config. `delete_stale` is the post-hook statement (Jinja left unrendered,
    as in any hook) that removes what a delete + insert on the rebuilt customers cannot
    reach: customers merged away, or rows a rebuilt customer no longer has. It runs on
    incremental builds only: a full refresh has nothing stale. -#}
{% macro customer_incremental_config(delete_stale) -%}
{{
    config(
        materialized=incremental_materialization(),
        unique_key='customer_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
        post_hook=["{% if is_incremental() %}" ~ delete_stale ~ "{% endif %}"]
    )
}}
{%- endmacro %}

{#- The CTE `rebuilt_customers` (followed by a comma), on incremental builds only: the
    customer_ids that any of `relations` wrote (`_built_at`) since this model's last build.
    Models filter with `customer_id in (select customer_id from rebuilt_customers)` inside
    `{% if is_incremental() %}`. -#}
{% macro rebuilt_customers(relations) -%}
{%- if is_incremental() %}
rebuilt_customers as (
    {% for relation in relations %}
    {% if not loop.first %}union{% endif %}
    select distinct customer_id from {{ relation }}
    where customer_id is not null
        and _built_at > (select max(_built_at) from {{ this }})
    {% endfor %}
),
{%- endif %}
{%- endmacro %}
