-- Product catalog snapshot: one row per variant SKU.
with source as (

    select * from {{ source('raw', 'shop_products') }}

),

renamed as (

    select
        trim(sku) as sku,
        nullif(trim(handle), '') as handle,
        title,
        vendor,
        nullif(trim(category), '') as category,
        price,
        lower(trim(status)) as status,
        _loaded_at,
        _source_line
    from source

),

final as (

    select sku, handle, title, vendor, category, price, status, _loaded_at
    from renamed
    qualify row_number() over (partition by sku order by _loaded_at desc, _source_line) = 1

)

select * from final
