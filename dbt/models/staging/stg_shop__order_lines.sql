-- One row per line item of each web order's latest version, with its refunds applied:
-- refunded quantity and amount summed over every refund of the order. The order-level
-- discount is spread over the lines in proportion to their gross, in whole cents, the
-- rounding rest on the first line, so lines add up to the order exactly.
with orders as (

    select * from {{ ref('stg_shop__orders') }}

),

lines as (

    select
        exploded.order_id,
        exploded.line_position,
        cast(exploded.item.id as {{ dbt.type_string() }}) as line_item_id,
        trim(exploded.item.sku) as sku,
        cast(exploded.item.product_id as {{ dbt.type_string() }}) as product_id,
        exploded.item.title as item_title,
        exploded.item.quantity as quantity,
        exploded.item.price as unit_price,
        exploded.item.quantity * exploded.item.price as gross_amount,
        exploded.total_discounts,
        exploded.currency,
        exploded.rate_to_reporting
    from (
        -- unnest in the select list: DuckDB's lateral WITH ORDINALITY is far slower
        select
            order_id,
            total_discounts,
            currency,
            rate_to_reporting,
            unnest(line_items) as item,
            generate_subscripts(line_items, 1) as line_position
        from orders
    ) as exploded

),

refunds as (

    select
        order_id,
        cast(refund_line.line_item_id as {{ dbt.type_string() }}) as line_item_id,
        sum(refund_line.quantity) as refunded_quantity,
        sum(refund_line.subtotal) as refunded_amount,
        max({{ to_utc('refunded_at') }}) as last_refunded_at
    from (
        select
            order_id,
            refund.created_at as refunded_at,
            unnest(refund.refund_line_items) as refund_line
        from (
            select order_id, unnest(refunds) as refund
            from orders
            where len(refunds) > 0
        ) as refund_list
    ) as refund_lines
    group by 1, 2

),

discounted as (

    select
        lines.*,
        floor(
            lines.total_discounts * 100 * {{ safe_divide('lines.gross_amount', 'sum(lines.gross_amount) over (partition by lines.order_id)') }}
        ) as discount_cents_floor
    from lines

),

final as (

    select
        discounted.order_id,
        discounted.line_item_id,
        discounted.line_position,
        discounted.sku,
        discounted.product_id,
        discounted.item_title,
        discounted.quantity,
        discounted.unit_price,
        discounted.currency,
        discounted.rate_to_reporting,
        cast(discounted.gross_amount as decimal(18, 2)) as gross_amount,
        cast((
            coalesce(discounted.discount_cents_floor, 0)
            + case
                when discounted.line_position = 1
                    then discounted.total_discounts * 100
                        - coalesce(sum(discounted.discount_cents_floor) over (partition by discounted.order_id), 0)
                else 0
            end
        ) / 100 as decimal(18, 2)) as discount_amount,
        coalesce(refunds.refunded_quantity, 0) as refunded_quantity,
        cast(coalesce(refunds.refunded_amount, 0) as decimal(18, 2)) as refunded_amount,
        refunds.last_refunded_at
    from discounted
    left join refunds
        on refunds.order_id = discounted.order_id
        and refunds.line_item_id = discounted.line_item_id

)

select * from final
