{{
    config(
        materialized='incremental',
        unique_key='order_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}

-- depends_on: {{ ref('int_identity__identifiers') }}

-- One row per order (a POS transaction or a web order), summed from fct_order_lines.
-- Incremental exactly like the lines: an order is rewritten when its lines carry a newer
-- `_loaded_at` than this table holds for that source, or when its customer changed.
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

changed_orders as (

    select order_key
    from {{ ref('fct_order_lines') }}
    where (source_system = 'pos' and _loaded_at > (select pos_loaded_at from watermarks))
        or (source_system = 'shop' and _loaded_at > (select shop_loaded_at from watermarks))
    union
    select existing.order_key
    from {{ this }} as existing
    left join {{ ref('int_identity__identifiers') }} as identifiers
        on identifiers.identifier = existing.identity_key
    where existing.identity_key is not null
        and identifiers.customer_id is distinct from existing.customer_id

),
{% endif %}

lines as (

    select * from {{ ref('fct_order_lines') }}
    {% if is_incremental() %}
    where order_key in (select order_key from changed_orders)
    {% endif %}

),

aggregated as (

    select
        order_key,
        any_value(source_system) as source_system,
        any_value(channel) as channel,
        any_value(source_order_id) as source_order_id,
        any_value(order_name) as order_name,
        any_value(location_id) as location_id,
        any_value(customer_id) as customer_id,
        any_value(identity_key) as identity_key,
        any_value(ordered_at) as ordered_at,
        any_value(currency) as currency,
        any_value(fx_rate_to_reporting) as fx_rate_to_reporting,
        count(*) as line_count,
        sum(quantity) as item_quantity,
        sum(refunded_quantity) as refunded_quantity,
        sum(gross_local) as gross_local,
        sum(discount_local) as discount_local,
        sum(refunded_local) as refunded_local,
        sum(net_local) as net_local,
        sum(gross_amount) as gross_amount,
        sum(discount_amount) as discount_amount,
        sum(refunded_amount) as refunded_amount,
        sum(net_amount) as net_amount,
        sum(revenue_amount) as revenue_amount,
        max(last_refunded_at) as last_refunded_at,
        any_value(is_cancelled) as is_cancelled,
        any_value(cancelled_at) as cancelled_at,
        any_value(cancel_reason) as cancel_reason,
        any_value(shop_financial_status) as shop_financial_status,
        any_value(discount_code) as discount_code,
        any_value(payment_method) as payment_method,
        max(_loaded_at) as _loaded_at
    from lines
    group by 1

),

final as (

    select
        order_key,
        source_system,
        channel,
        source_order_id,
        order_name,
        location_id,
        customer_id,
        identity_key,
        ordered_at,
        cast(ordered_at as date) as ordered_on,
        currency,
        fx_rate_to_reporting,
        line_count,
        item_quantity,
        refunded_quantity,
        gross_local,
        discount_local,
        refunded_local,
        net_local,
        gross_amount,
        discount_amount,
        refunded_amount,
        net_amount,
        revenue_amount,
        case
            when refunded_local = 0 then 'none'
            when refunded_local >= gross_local - discount_local then 'full'
            else 'partial'
        end as refund_status,
        last_refunded_at,
        is_cancelled,
        cancelled_at,
        cancel_reason,
        coalesce(
            shop_financial_status,
            case
                when refunded_local = 0 then 'paid'
                when refunded_local >= gross_local - discount_local then 'refunded'
                else 'partially_refunded'
            end
        ) as financial_status,
        -- a purchase is an order that was not cancelled; a fully refunded order still is
        -- one (the customer did buy and came into contact), with zero revenue
        not is_cancelled as is_purchase,
        discount_code,
        payment_method,
        _loaded_at
    from aggregated

)

select * from final
