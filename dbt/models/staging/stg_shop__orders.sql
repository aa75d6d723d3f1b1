-- One row per web order: its latest version (latest updated_at wins; versions whose
-- updated_at lies after their own delivery day rank last, so a clock error cannot freeze
-- an order in an old state; exact duplicates vanish in the same step). created_at comes
-- from the versions whose created_at is plausible; an order with none is flagged
-- is_future_dated (a data error, kept out of the purchase facts). The logic lives in the
-- shop_orders_staged macro because the incremental int_shop__order_lines applies it to
-- the versions of changed orders only.
with versions as (

    select * from {{ ref('base_shop__orders') }}

),

{{ shop_orders_staged('versions') }},

final as (

    select * from shop_latest

)

select * from final
