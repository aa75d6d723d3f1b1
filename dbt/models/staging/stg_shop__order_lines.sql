-- One row per line item of each web order's latest version, with its refunds applied:
-- refunded quantity and amount summed over every refund of the order. The order-level
-- discount is spread over the lines in proportion to their gross, in whole cents, the
-- rounding rest on the first line, so lines add up to the order exactly (macro
-- shop_order_lines_staged, shared with the incremental int_shop__order_lines).
with orders as (

    select * from {{ ref('stg_shop__orders') }}

),

{{ shop_order_lines_staged('orders') }},

final as (

    select * from shop_order_lines

)

select * from final
