{{
    config(
        materialized=incremental_materialization(),
        unique_key='transaction_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}

-- depends_on: {{ ref('stg_pos__transactions') }}
-- depends_on: {{ ref('base_pos__transactions') }}
-- depends_on: {{ ref('stg_reference__fx_rates') }}

-- Changed rows are re-staged here (macro pos_transactions_staged): a filter on the staging
-- view would not reach below its deduplication. Joining sales to the (few) refunds is much
-- cheaper than grouping every row.
with

{% if is_incremental() %}
changed_transactions as (

    select distinct transaction_id
    from {{ ref('base_pos__transactions') }}
    where {{ loaded_since_last_run() }}

),

changed_rows as (

    select * from {{ ref('base_pos__transactions') }}
    where transaction_id in (select transaction_id from changed_transactions)

),

{{ pos_transactions_staged('changed_rows') }},

transactions as (

    select * from pos_converted

),
{% else %}
transactions as (

    select * from {{ ref('stg_pos__transactions') }}

),
{% endif %}

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

order_lines as (

    select
        sales.transaction_id,
        sales.sku,
        sales.item_title,
        sales.category,
        sales.location_id,
        sales.currency,
        sales.rate_to_reporting,
        sales.occurred_at as sold_at,
        -- the store's own day (the till's Date in its Time Zone): a sale at 23:30 in Los
        -- Angeles is that day's, though it is the next day in UTC
        sales.local_date as sold_on,
        sales.time_zone,
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
        greatest(sales._loaded_at, coalesce(refunds._loaded_at, sales._loaded_at)) as _loaded_at,
        current_timestamp::timestamp as _built_at
    from sales
    left join refunds
        on refunds.transaction_id = sales.transaction_id
        and refunds.sku = sales.sku

)

select * from order_lines
