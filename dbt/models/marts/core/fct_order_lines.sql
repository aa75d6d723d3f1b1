{{
    config(
        materialized='incremental',
        unique_key='order_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}

-- Every purchased line from the POS and the web shop in one shape, refunds applied.
--
-- Incremental: `unique_key` is the ORDER key, so a daily run deletes and rewrites every
-- line of each order it touches. An order is touched when (a) any of its source rows was
-- loaded after the newest `_loaded_at` this table already holds for that source (a new
-- sale, a refund row, a new order version), or (b) the customer its identity key resolves
-- to today differs from the stored one (two customers merged, a hub identifier). Nothing
-- here depends on the run date, so a full refresh yields the same rows.
with

{% if is_incremental() %}
watermarks as (

    select
        coalesce(max(case when source_system = 'pos' then _loaded_at end),
            cast('1900-01-01' as timestamp)) as pos_loaded_at,
        coalesce(max(case when source_system = 'shop' then _loaded_at end),
            cast('1900-01-01' as timestamp)) as shop_loaded_at
    from {{ this }}

),

remapped_orders as (

    select existing.source_system, existing.source_order_id
    from (
        select distinct source_system, source_order_id, identity_key, customer_id
        from {{ this }}
        where identity_key is not null
    ) as existing
    left join {{ ref('int_identity__identifiers') }} as identifiers
        on identifiers.identifier = existing.identity_key
    where identifiers.customer_id is distinct from existing.customer_id

),

changed_pos_transactions as (

    -- the base model is the cheap place to look: no deduplication needed to find ids
    select distinct transaction_id
    from {{ ref('base_pos__transactions') }}
    where _loaded_at > (select pos_loaded_at from watermarks)
    union
    select source_order_id from remapped_orders where source_system = 'pos'

),

changed_shop_orders as (

    select distinct order_id
    from {{ ref('base_shop__orders') }}
    where _loaded_at > (select shop_loaded_at from watermarks)
    union
    select source_order_id from remapped_orders where source_system = 'shop'

),
{% endif %}

pos_rows as (

    select * from {{ ref('stg_pos__transactions') }}
    {% if is_incremental() %}
    where transaction_id in (select transaction_id from changed_pos_transactions)
    {% endif %}

),

pos_orders as (

    -- A sale's time is that of its own (plausibly dated) payment rows; a transaction whose
    -- payment rows are all dated in the future of their delivery is a data error: no
    -- purchase, no recency.
    select
        'pos:' || transaction_id as order_key,
        'pos' as source_system,
        'in_store' as channel,
        transaction_id as source_order_id,
        cast(null as {{ dbt.type_string() }}) as order_name,
        max(location_id) as location_id,
        min(case when not is_refund and not is_future_dated then occurred_at end) as ordered_at,
        false as is_cancelled,
        cast(null as timestamp) as cancelled_at,
        cast(null as {{ dbt.type_string() }}) as cancel_reason,
        cast(null as {{ dbt.type_string() }}) as shop_financial_status,
        max(discount_code) filter (where not is_refund) as discount_code,
        max(payment_method) filter (where not is_refund) as payment_method,
        max(_loaded_at) as _loaded_at,
        max('loyalty:' || loyalty_id) as identity_candidate_1,
        max('phone:' || customer_phone_e164) as identity_candidate_2,
        cast(null as {{ dbt.type_string() }}) as identity_candidate_3,
        cast(null as {{ dbt.type_string() }}) as identity_candidate_4,
        cast(null as {{ dbt.type_string() }}) as identity_candidate_5
    from pos_rows
    group by transaction_id

),

pos_lines as (

    select
        'pos:' || transaction_id as order_key,
        'pos:' || transaction_id || ':' || sku as order_line_key,
        row_number() over (partition by transaction_id order by sku) as line_number,
        sku,
        max(item_title) as product_title,
        max(category) as category,
        max(currency) as currency,
        max(rate_to_reporting) as rate_to_reporting,
        sum(quantity) filter (where not is_refund) as quantity,
        coalesce(-sum(quantity) filter (where is_refund), 0) as refunded_quantity,
        max(unit_price) filter (where not is_refund) as unit_price_local,
        sum(gross_sales) filter (where not is_refund) as gross_local,
        coalesce(-sum(discounts) filter (where not is_refund), 0) as discount_local,
        coalesce(-sum(net_sales) filter (where is_refund), 0) as refunded_local,
        max(case when is_refund and not is_future_dated then occurred_at end) as last_refunded_at
    from pos_rows
    group by transaction_id, sku
    -- a refund whose sale row is missing or future-dated has nothing to reduce
    having count(*) filter (where not is_refund and not is_future_dated) > 0

),

shop_order_rows as (

    select * from {{ ref('stg_shop__orders') }}
    where not is_future_dated
    {% if is_incremental() %}
        and order_id in (select order_id from changed_shop_orders)
    {% endif %}

),

shop_orders as (

    select
        'shop:' || order_id as order_key,
        'shop' as source_system,
        'online' as channel,
        order_id as source_order_id,
        order_name,
        cast(null as {{ dbt.type_string() }}) as location_id,
        created_at as ordered_at,
        is_cancelled,
        cancelled_at,
        cancel_reason,
        financial_status as shop_financial_status,
        discount_code,
        cast(null as {{ dbt.type_string() }}) as payment_method,
        _loaded_at,
        'shop:' || shop_customer_id as identity_candidate_1,
        'email:' || customer_email as identity_candidate_2,
        'email:' || email as identity_candidate_3,
        'phone:' || customer_phone_e164 as identity_candidate_4,
        'phone:' || phone_e164 as identity_candidate_5
    from shop_order_rows

),

shop_lines as (

    select
        'shop:' || lines.order_id as order_key,
        'shop:' || lines.order_id || ':' || lines.line_item_id as order_line_key,
        lines.line_position as line_number,
        lines.sku,
        coalesce(products.title, lines.item_title) as product_title,
        products.category,
        lines.currency,
        lines.rate_to_reporting,
        lines.quantity,
        lines.refunded_quantity,
        lines.unit_price as unit_price_local,
        lines.gross_amount as gross_local,
        lines.discount_amount as discount_local,
        lines.refunded_amount as refunded_local,
        lines.last_refunded_at
    from {{ ref('stg_shop__order_lines') }} as lines
    left join {{ ref('stg_shop__products') }} as products on products.sku = lines.sku
    {% if is_incremental() %}
    where lines.order_id in (select order_id from changed_shop_orders)
    {% endif %}

),

orders as (

    select * from pos_orders where ordered_at is not null
    union all
    select * from shop_orders

),

candidates as (

    {% for i in range(1, 6) -%}
    select order_key, {{ i }} as priority, identity_candidate_{{ i }} as identifier
    from orders where identity_candidate_{{ i }} is not null
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

resolved as (

    -- the first candidate that resolves wins; all non-hub identifiers of one record sit
    -- in the same component, so they agree unless one of them is a hub
    select
        candidates.order_key,
        arg_min(candidates.identifier, candidates.priority) as identity_key,
        arg_min(identifiers.customer_id, candidates.priority) as customer_id
    from candidates
    inner join {{ ref('int_identity__identifiers') }} as identifiers
        on identifiers.identifier = candidates.identifier
    where identifiers.customer_id is not null
    group by 1

),

lines as (

    select * from pos_lines
    union all
    select * from shop_lines

),

final as (

    select
        lines.order_line_key,
        lines.order_key,
        orders.source_system,
        orders.channel,
        orders.source_order_id,
        orders.order_name,
        orders.location_id,
        resolved.customer_id,
        resolved.identity_key,
        orders.ordered_at,
        cast(orders.ordered_at as date) as ordered_on,
        lines.line_number,
        lines.sku,
        lines.product_title,
        lines.category,
        lines.quantity,
        lines.refunded_quantity,
        lines.quantity - lines.refunded_quantity as net_quantity,
        lines.currency,
        lines.rate_to_reporting as fx_rate_to_reporting,
        cast(lines.unit_price_local as decimal(18, 2)) as unit_price_local,
        cast(lines.gross_local as decimal(18, 2)) as gross_local,
        cast(lines.discount_local as decimal(18, 2)) as discount_local,
        cast(lines.refunded_local as decimal(18, 2)) as refunded_local,
        cast(lines.gross_local - lines.discount_local - lines.refunded_local as decimal(18, 2))
            as net_local,
        {{ to_reporting_currency('lines.gross_local', 'lines.rate_to_reporting') }} as gross_amount,
        {{ to_reporting_currency('lines.discount_local', 'lines.rate_to_reporting') }} as discount_amount,
        {{ to_reporting_currency('lines.refunded_local', 'lines.rate_to_reporting') }} as refunded_amount,
        {{ to_reporting_currency('lines.gross_local - lines.discount_local - lines.refunded_local', 'lines.rate_to_reporting') }}
            as net_amount,
        case when orders.is_cancelled then cast(0 as decimal(18, 2))
            else {{ to_reporting_currency('lines.gross_local - lines.discount_local - lines.refunded_local', 'lines.rate_to_reporting') }}
        end as revenue_amount,
        lines.last_refunded_at,
        orders.is_cancelled,
        orders.cancelled_at,
        orders.cancel_reason,
        orders.shop_financial_status,
        orders.discount_code,
        orders.payment_method,
        orders._loaded_at
    from lines
    inner join orders on orders.order_key = lines.order_key
    left join resolved on resolved.order_key = lines.order_key

)

select * from final
