{#- The deduplication and currency conversion of POS rows, as two CTEs named
    `<prefix>_deduplicated` and `<prefix>_converted`, over any CTE shaped like
    base_pos__transactions. stg_pos__transactions applies it to every row; the incremental
    int_pos__order_lines applies it to the rows of the transactions that changed, because
    a filter on a view does not reach below its window function. One definition, two uses.
    The first delivery day wins; copies within one delivery day are identical lines. -#}
{% macro pos_transactions_staged(source_cte, prefix='pos') %}
{{ prefix }}_deduplicated as (

    select * from {{ source_cte }}
    qualify row_number() over (
        partition by transaction_id, event_type, sku
        order by delivered_on
    ) = 1

),

{{ prefix }}_converted as (

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
    from {{ prefix }}_deduplicated as deduplicated
    left join {{ ref('stg_reference__fx_rates') }} as fx
        on fx.currency = deduplicated.currency

)
{% endmacro %}
