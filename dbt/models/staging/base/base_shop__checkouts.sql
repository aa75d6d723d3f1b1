-- Checkout versions exactly as delivered (a recovered checkout is re-exported with
-- completed_at; duplicates included), typed and renamed. `_row_id` as in base_shop__orders.
with source as (

    select {{ raw_row_id() }} as _row_id, * from {{ source('raw', 'shop_checkouts') }}

),

renamed as (

    select
        _row_id,
        cast(id as {{ dbt.type_string() }}) as checkout_id,
        token as checkout_token,
        case when email_normalized like '%_@_%' then email_normalized end as email,
        case when phone_is_valid then phone_e164 end as phone_e164,
        cast(customer_id as {{ dbt.type_string() }}) as shop_customer_id,
        case when customer_email_normalized like '%_@_%' then customer_email_normalized end
            as customer_email,
        nullif(upper(trim(shipping_country)), '') as shipping_country,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('updated_at') }} as updated_at,
        {{ to_utc('completed_at') }} as completed_at,
        {{ is_future_dated(to_utc('created_at'), '_partition_date') }} as is_created_future_dated,
        {{ is_future_dated(to_utc('updated_at'), '_partition_date') }} as is_updated_future_dated,
        upper(trim(currency)) as currency,
        total_price,
        line_items,
        _partition_date as delivered_on,
        _loaded_at,
        _source_file,
        _source_line
    from source

)

select * from renamed
