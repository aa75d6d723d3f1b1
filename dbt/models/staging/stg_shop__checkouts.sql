-- The logic lives in macro shop_checkouts_staged: int_customers__abandoned_checkouts
-- applies it to the versions of recent checkouts only.
with versions as (

    select * from {{ ref('base_shop__checkouts') }}

),

{{ shop_checkouts_staged('versions') }},

final as (

    select * from checkouts_latest

)

select * from final
