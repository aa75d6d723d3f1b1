-- POS item rows (sales and refunds), one per (transaction, event type, SKU): exact
-- duplicates and re-delivered lines removed (the first delivery day wins; copies within
-- one delivery day are identical lines, so which one stays does not matter), money
-- converted to the reporting currency.
with source as (

    select * from {{ ref('base_pos__transactions') }}

),

deduplicated as (

    select * from source
    qualify row_number() over (
        partition by transaction_id, event_type, sku
        order by delivered_on
    ) = 1

),

final as (

    select
        deduplicated.transaction_id,
        deduplicated.event_type,
        deduplicated.event_type = 'Refund' as is_refund,
        deduplicated.sku,
        deduplicated.location_id,
        deduplicated.item_title,
        deduplicated.category,
        deduplicated.quantity,
        deduplicated.unit_price,
        deduplicated.gross_sales,
        deduplicated.discounts,
        deduplicated.discount_code,
        deduplicated.net_sales,
        deduplicated.currency,
        fx.rate_to_reporting,
        {{ to_reporting_currency('deduplicated.gross_sales', 'fx.rate_to_reporting') }} as gross_sales_reporting,
        {{ to_reporting_currency('deduplicated.discounts', 'fx.rate_to_reporting') }} as discounts_reporting,
        {{ to_reporting_currency('deduplicated.net_sales', 'fx.rate_to_reporting') }} as net_sales_reporting,
        deduplicated.payment_method,
        deduplicated.loyalty_id,
        deduplicated.customer_phone_e164,
        deduplicated.customer_phone_region,
        deduplicated.local_date,
        deduplicated.local_time,
        deduplicated.time_zone,
        deduplicated.occurred_at,
        deduplicated.is_future_dated,
        deduplicated.delivered_on,
        deduplicated._loaded_at
    from deduplicated
    left join {{ ref('stg_reference__fx_rates') }} as fx
        on fx.currency = deduplicated.currency

)

select * from final
