-- One row per item of each checkout's latest version (macro shop_checkout_lines_staged,
-- shared with int_customers__abandoned_checkouts).
with checkouts as (

    select * from {{ ref('stg_shop__checkouts') }}

),

{{ shop_checkout_lines_staged('checkouts') }},

final as (

    select * from checkouts_lines

)

select * from final
