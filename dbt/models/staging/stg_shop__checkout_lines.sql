-- One row per item of each checkout's latest version.
with checkouts as (

    select * from {{ ref('stg_shop__checkouts') }}

),

final as (

    select
        exploded.checkout_id,
        exploded.line_position,
        trim(exploded.item.sku) as sku,
        cast(exploded.item.product_id as {{ dbt.type_string() }}) as product_id,
        exploded.item.title as item_title,
        exploded.item.quantity as quantity,
        exploded.item.price as unit_price,
        exploded.currency
    from (
        select
            checkout_id,
            currency,
            unnest(line_items) as item,
            generate_subscripts(line_items, 1) as line_position
        from checkouts
    ) as exploded

)

select * from final
