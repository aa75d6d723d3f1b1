{{
    config(
        materialized=incremental_materialization(),
        unique_key='order_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}

-- unique_key is the order key: a run rewrites the lists of exactly the orders whose lines
-- fct_order_lines rewrote after the newest of its builds held here (it rewrites all lines
-- of an order)
with

lines as (

    select order_key, category, sku, _built_at
    from {{ ref('fct_order_lines') }}
    where {{ loaded_since_last_run('_built_at') }}

),

final as (

    select
        order_key,
        {{ distinct_sorted_list('category') }} as categories,
        {{ distinct_sorted_list('sku') }} as skus,
        -- the build of fct_order_lines these lists come from (one value per order: that
        -- build rewrote all of its lines), so the next run takes the lines built after it
        max(_built_at) as _built_at
    from lines
    group by 1

)

select * from final
