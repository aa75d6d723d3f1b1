-- The logic lives in macro shop_orders_staged: the incremental int_shop__order_lines
-- applies it to the versions of changed orders only.
with versions as (

    select * from {{ ref('base_shop__orders') }}

),

{{ shop_orders_staged('versions') }},

final as (

    select * from shop_latest

)

select * from final
