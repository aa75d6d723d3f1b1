-- One row per line item of each web order's latest version, with its refunds applied:
-- refunded quantity and amount summed over every refund of the order. The order-level
-- discount is spread over the lines in proportion to their gross, in whole cents, the
-- rounding rest on the first line, so lines add up to the order exactly.
with orders as (

    select * from {{ ref('stg_shop__orders') }}

),

allocated as (

    -- the order's discount spread over its lines in whole cents, proportional to line
    -- gross, computed on the nested list before unnesting (no window needed): each line
    -- gets the floor of its share, the first line also gets the rounding rest
    select
        order_id,
        total_discounts,
        currency,
        rate_to_reporting,
        line_items,
        list_transform(
            line_items,
            lambda item: floor(
                total_discounts * 100 * item.quantity * item.price
                / nullif(list_sum(list_transform(line_items, lambda i: i.quantity * i.price)), 0)
            )
        ) as discount_cents
    from orders

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
        cast((
            coalesce(exploded.discount_cents, 0)
            + case when exploded.line_position = 1
                then exploded.total_discounts * 100 - coalesce(exploded.discount_cents_total, 0)
                else 0 end
        ) / 100 as decimal(18, 2)) as discount_amount,
        exploded.currency,
        exploded.rate_to_reporting
    from (
        -- unnest in the select list: DuckDB's lateral WITH ORDINALITY is far slower
        select
            order_id,
            total_discounts,
            currency,
            rate_to_reporting,
            list_sum(discount_cents) as discount_cents_total,
            unnest(line_items) as item,
            unnest(discount_cents) as discount_cents,
            generate_subscripts(line_items, 1) as line_position
        from allocated
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

final as (

    select
        lines.order_id,
        lines.line_item_id,
        lines.line_position,
        lines.sku,
        lines.product_id,
        lines.item_title,
        lines.quantity,
        lines.unit_price,
        lines.currency,
        lines.rate_to_reporting,
        cast(lines.gross_amount as decimal(18, 2)) as gross_amount,
        lines.discount_amount,
        coalesce(refunds.refunded_quantity, 0) as refunded_quantity,
        cast(coalesce(refunds.refunded_amount, 0) as decimal(18, 2)) as refunded_amount,
        refunds.last_refunded_at
    from lines
    left join refunds
        on refunds.order_id = lines.order_id
        and refunds.line_item_id = lines.line_item_id

)

select * from final
