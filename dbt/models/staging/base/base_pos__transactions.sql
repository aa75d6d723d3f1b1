with source as (

    select * from {{ source('raw', 'pos_transactions') }}

),

renamed as (

    select
        trim(transaction_id) as transaction_id,
        trim(event_type) as event_type,
        trim(sku) as sku,
        trim(location_id) as location_id,
        item as item_title,
        category,
        quantity,
        unit_price,
        gross_sales,
        coalesce(discounts, 0) as discounts,
        nullif(trim(discount_code), '') as discount_code,
        net_sales,
        upper(trim(currency)) as currency,
        payment_method,
        nullif(trim(loyalty_id), '') as loyalty_id,
        -- an invalid number is no number: it links nobody and is never messaged
        case when customer_phone_is_valid then customer_phone_e164 end as customer_phone_e164,
        case when customer_phone_is_valid then customer_phone_region end as customer_phone_region,
        local_date,
        local_time,
        time_zone,
        {{ local_to_utc(date_at_time('local_date', 'local_time'), 'time_zone') }} as occurred_at,
        {{ is_future_dated('local_date', '_partition_date') }} as is_future_dated,
        _partition_date as delivered_on,
        _loaded_at,
        _source_file,
        _source_line
    from source

)

select * from renamed
