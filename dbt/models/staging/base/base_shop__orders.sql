-- `_row_id` lets the latest version be picked on narrow columns and its nested line items
-- fetched afterwards: much cheaper than ranking whole rows with their lists.
with source as (

    select {{ raw_row_id() }} as _row_id, * from {{ source('raw', 'shop_orders') }}

),

renamed as (

    select
        _row_id,
        cast(id as {{ dbt.type_string() }}) as order_id,
        name as order_name,
        case when email_normalized like '%_@_%' then email_normalized end as email,
        case when phone_is_valid then phone_e164 end as phone_e164,
        case when phone_is_valid then phone_region end as phone_region,
        cast(customer_id as {{ dbt.type_string() }}) as shop_customer_id,
        case when customer_email_normalized like '%_@_%' then customer_email_normalized end
            as customer_email,
        case when customer_phone_is_valid then customer_phone_e164 end as customer_phone_e164,
        case when customer_phone_is_valid then customer_phone_region end as customer_phone_region,
        nullif(trim(customer.first_name), '') as customer_first_name,
        nullif(trim(customer.last_name), '') as customer_last_name,
        nullif(upper(trim(shipping_country)), '') as shipping_country,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('updated_at') }} as updated_at,
        {{ is_future_dated(to_utc('created_at'), '_partition_date') }} as is_created_future_dated,
        {{ is_future_dated(to_utc('updated_at'), '_partition_date') }} as is_updated_future_dated,
        upper(trim(currency)) as currency,
        total_price,
        subtotal_price,
        coalesce(total_discounts, 0) as total_discounts,
        lower(trim(financial_status)) as financial_status,
        {{ to_utc('cancelled_at') }} as cancelled_at,
        nullif(lower(trim(cancel_reason)), '') as cancel_reason,
        discount_codes,
        line_items,
        refunds,
        _partition_date as delivered_on,
        _loaded_at,
        _source_file,
        _source_line
    from source

)

select * from renamed
