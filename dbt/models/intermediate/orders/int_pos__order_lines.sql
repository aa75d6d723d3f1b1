-- POS lines: one row per (transaction, SKU): the sale row with its refund rows folded in.
-- A line whose sale row is dated in the future of its delivery (a clock error) is left
-- out, refunds and all: no purchase, no recency; a refund without its sale has nothing to
-- reduce. Joining sales to the (few) refunds is much cheaper than grouping every row.
with transactions as (

    select * from {{ ref('stg_pos__transactions') }}

),

sales as (

    select * from transactions
    where not is_refund and not is_future_dated

),

refunds as (

    select
        transaction_id,
        sku,
        -sum(quantity) as refunded_quantity,
        -sum(net_sales) as refunded_local,
        max(case when not is_future_dated then occurred_at end) as last_refunded_at,
        max(_loaded_at) as _loaded_at
    from transactions
    where is_refund
    group by 1, 2

),

final as (

    select
        sales.transaction_id,
        sales.sku,
        sales.item_title,
        sales.category,
        sales.location_id,
        sales.currency,
        sales.rate_to_reporting,
        sales.occurred_at as sold_at,
        sales.quantity,
        coalesce(refunds.refunded_quantity, 0) as refunded_quantity,
        sales.unit_price,
        sales.gross_sales as gross_local,
        -sales.discounts as discount_local,
        coalesce(refunds.refunded_local, 0) as refunded_local,
        refunds.last_refunded_at,
        sales.discount_code,
        sales.payment_method,
        sales.loyalty_id,
        sales.customer_phone_e164,
        greatest(sales._loaded_at, coalesce(refunds._loaded_at, sales._loaded_at)) as _loaded_at
    from sales
    left join refunds
        on refunds.transaction_id = sales.transaction_id
        and refunds.sku = sales.sku

)

select * from final
