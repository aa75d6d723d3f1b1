{{
    config(
        materialized=incremental_materialization(),
        unique_key='order_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}

-- depends_on: {{ ref('stg_shop__order_lines') }}
-- depends_on: {{ ref('base_shop__orders') }}
-- depends_on: {{ ref('stg_reference__fx_rates') }}

-- Changed orders are re-staged here (macros shop_orders_staged, shop_order_lines_staged):
-- a filter on the staging view would not reach below its pick of the latest version.
with

{% if is_incremental() %}
changed_orders as (

    select distinct order_id
    from {{ ref('base_shop__orders') }}
    where {{ loaded_since_last_run() }}

),

changed_versions as (

    select * from {{ ref('base_shop__orders') }}
    where order_id in (select order_id from changed_orders)

),

{{ shop_orders_staged('changed_versions') }},

{{ shop_order_lines_staged('shop_latest') }},

lines as (

    select * from shop_order_lines

),
{% else %}
lines as (

    select * from {{ ref('stg_shop__order_lines') }}

),
{% endif %}

products as (

    select * from {{ ref('stg_shop__products') }}

),

final as (

    select
        lines.order_id,
        lines.line_item_id,
        lines.line_position,
        lines.sku,
        coalesce(products.title, lines.item_title) as product_title,
        products.category,
        lines.quantity,
        lines.unit_price,
        lines.currency,
        lines.rate_to_reporting,
        lines.gross_amount,
        lines.discount_amount,
        lines.refunded_quantity,
        lines.refunded_amount,
        lines.last_refunded_at,
        lines._loaded_at,
        current_timestamp::timestamp as _built_at
    from lines
    left join products on products.sku = lines.sku

)

select * from final
