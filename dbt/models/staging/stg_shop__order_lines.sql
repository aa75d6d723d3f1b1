-- The logic lives in macro shop_order_lines_staged, shared with the incremental
-- int_shop__order_lines.
with orders as (

    select * from {{ ref('stg_shop__orders') }}

),

{{ shop_order_lines_staged('orders') }},

final as (

    select * from shop_order_lines

)

select * from final
