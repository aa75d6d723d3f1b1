-- One row per checkout in its latest state (a completed version beats an abandoned one,
-- then the latest updated_at; exact duplicates vanish in the same step). created_at comes
-- from a version whose created_at is plausible; a checkout with none is flagged
-- is_future_dated and is never "abandoned in the last 48 hours". The logic lives in the
-- shop_checkouts_staged macro because int_customers__abandoned_checkouts applies it to the
-- versions of recent checkouts only.
with versions as (

    select * from {{ ref('base_shop__checkouts') }}

),

{{ shop_checkouts_staged('versions') }},

final as (

    select * from checkouts_latest

)

select * from final
