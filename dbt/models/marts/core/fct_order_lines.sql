{{
    config(
        materialized=incremental_materialization(),
        unique_key='order_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}

-- unique_key is the ORDER key: a run rewrites every line of each order fct_orders wrote
-- since this table's last build, and a run that failed in between is caught up by the next.
with

orders as (

    select * from {{ ref('fct_orders') }}
    {% if is_incremental() %}
    -- exactly the orders fct_orders wrote since this table's last build
    where _built_at > (select max(_built_at) from {{ this }})
    {% endif %}

),

pos_lines as (

    select
        'pos:' || transaction_id as order_key,
        'pos:' || transaction_id || ':' || sku as order_line_key,
        row_number() over (partition by transaction_id order by sku) as line_number,
        sku,
        item_title as product_title,
        category,
        quantity,
        refunded_quantity,
        currency,
        rate_to_reporting,
        unit_price as unit_price_local,
        gross_local,
        discount_local,
        refunded_local,
        last_refunded_at
    from {{ ref('int_pos__order_lines') }}
    {% if is_incremental() -%}
    where transaction_id in (select source_order_id from orders where source_system = 'pos')
    {%- endif %}

),

shop_lines as (

    select
        'shop:' || lines.order_id as order_key,
        'shop:' || lines.order_id || ':' || lines.line_item_id as order_line_key,
        lines.line_position as line_number,
        lines.sku,
        lines.product_title,
        lines.category,
        lines.quantity,
        lines.refunded_quantity,
        lines.currency,
        lines.rate_to_reporting,
        lines.unit_price as unit_price_local,
        lines.gross_amount as gross_local,
        lines.discount_amount as discount_local,
        lines.refunded_amount as refunded_local,
        lines.last_refunded_at
    from {{ ref('int_shop__order_lines') }} as lines
    {% if is_incremental() -%}
    where lines.order_id in (select source_order_id from orders where source_system = 'shop')
    {%- endif %}

),

lines as (

    select * from pos_lines
    union all
    select * from shop_lines

),

final as (

    select
        lines.order_line_key,
        lines.order_key,
        orders.source_system,
        orders.channel,
        orders.source_order_id,
        orders.customer_id,
        orders.ordered_at,
        orders.ordered_on,
        lines.line_number,
        lines.sku,
        lines.product_title,
        lines.category,
        lines.quantity,
        lines.refunded_quantity,
        lines.quantity - lines.refunded_quantity as net_quantity,
        lines.currency,
        lines.rate_to_reporting as fx_rate_to_reporting,
        cast(lines.unit_price_local as decimal(18, 2)) as unit_price_local,
        cast(lines.gross_local as decimal(18, 2)) as gross_local,
        cast(lines.discount_local as decimal(18, 2)) as discount_local,
        cast(lines.refunded_local as decimal(18, 2)) as refunded_local,
        cast(lines.gross_local - lines.discount_local - lines.refunded_local as decimal(18, 2))
            as net_local,
        {{ to_reporting_currency('lines.gross_local', 'lines.rate_to_reporting') }} as gross_amount,
        {{ to_reporting_currency('lines.discount_local', 'lines.rate_to_reporting') }} as discount_amount,
        {{ to_reporting_currency('lines.refunded_local', 'lines.rate_to_reporting') }} as refunded_amount,
        {{ to_reporting_currency('lines.gross_local - lines.discount_local - lines.refunded_local', 'lines.rate_to_reporting') }}
            as net_amount,
        case when orders.is_cancelled then cast(0 as decimal(18, 2))
            else {{ to_reporting_currency('lines.gross_local - lines.discount_local - lines.refunded_local', 'lines.rate_to_reporting') }}
        end as revenue_amount,
        lines.last_refunded_at,
        orders.is_cancelled,
        orders._loaded_at,
        current_timestamp::timestamp as _built_at
    from lines
    inner join orders on orders.order_key = lines.order_key

)

select * from final
