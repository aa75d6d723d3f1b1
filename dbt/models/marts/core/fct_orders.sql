{{
    config(
        materialized=incremental_materialization(),
        unique_key='order_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}

-- depends_on: {{ ref('base_pos__transactions') }}
-- depends_on: {{ ref('base_shop__orders') }}
-- depends_on: {{ ref('stg_reference__fx_rates') }}
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

rewritten_identifiers as materialized (

    -- only identifiers identity resolution rewrote after the newest load this table holds
    -- can have moved: every rewrite not yet applied here happened in a run after that load
    select identifier, customer_id
    from {{ ref('int_identity__identifiers') }}
    where _built_at > (select greatest(pos_loaded_at, shop_loaded_at) from watermarks)

),

remapped_orders as (

    select existing.source_system, existing.source_order_id
    from {{ this }} as existing
    inner join rewritten_identifiers as identifiers
        on identifiers.identifier = existing.identity_key
    where identifiers.customer_id is distinct from existing.customer_id

),

changed_pos_transactions as (

    -- the base model is the cheap place to look: finding ids needs no deduplication
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

changed_shop_versions as (

    select * from {{ ref('base_shop__orders') }}
    where order_id in (select order_id from changed_shop_orders)

),

-- each changed order's latest version, staged like stg_shop__orders (a filter on that
-- view would not reach below its aggregation)
{{ shop_orders_staged('changed_shop_versions', prefix='changed_shop') }},
{% endif %}

pos_lines as (

    select * from {{ ref('int_pos__order_lines') }}
    {% if is_incremental() %}
    where transaction_id in (select transaction_id from changed_pos_transactions)
    {% endif %}

),

pos_orders as (

    select
        'pos:' || transaction_id as order_key,
        'pos' as source_system,
        'in_store' as channel,
        transaction_id as source_order_id,
        cast(null as {{ dbt.type_string() }}) as order_name,
        any_value(location_id) as location_id,
        min(sold_at) as ordered_at,
        min(sold_on) as ordered_on,
        min(time_zone) as ordered_time_zone,
        any_value(currency) as currency,
        any_value(rate_to_reporting) as fx_rate_to_reporting,
        count(*) as line_count,
        sum(quantity) as item_quantity,
        sum(refunded_quantity) as refunded_quantity,
        sum(gross_local) as gross_local,
        sum(discount_local) as discount_local,
        sum(refunded_local) as refunded_local,
        sum({{ to_reporting_currency('gross_local', 'rate_to_reporting') }}) as gross_amount,
        sum({{ to_reporting_currency('discount_local', 'rate_to_reporting') }}) as discount_amount,
        sum({{ to_reporting_currency('refunded_local', 'rate_to_reporting') }}) as refunded_amount,
        sum({{ to_reporting_currency('gross_local - discount_local - refunded_local', 'rate_to_reporting') }})
            as net_amount,
        max(last_refunded_at) as last_refunded_at,
        false as is_cancelled,
        cast(null as timestamp) as cancelled_at,
        cast(null as {{ dbt.type_string() }}) as cancel_reason,
        cast(null as {{ dbt.type_string() }}) as shop_financial_status,
        max(discount_code) as discount_code,
        any_value(payment_method) as payment_method,
        max(_loaded_at) as _loaded_at,
        'loyalty:' || max(loyalty_id) as identity_candidate_1,
        'phone:' || max(customer_phone_e164) as identity_candidate_2,
        cast(null as {{ dbt.type_string() }}) as identity_candidate_3,
        cast(null as {{ dbt.type_string() }}) as identity_candidate_4,
        cast(null as {{ dbt.type_string() }}) as identity_candidate_5
    from pos_lines
    group by transaction_id

),

shop_headers as (

    {% if is_incremental() -%}
    select * from changed_shop_latest
    {%- else -%}
    select * from {{ ref('stg_shop__orders') }}
    {%- endif %}
    where not is_future_dated

),

shop_line_totals as (

    select
        order_id,
        count(*) as line_count,
        sum(quantity) as item_quantity,
        sum(refunded_quantity) as refunded_quantity,
        sum(gross_amount) as gross_local,
        sum(discount_amount) as discount_local,
        sum(refunded_amount) as refunded_local,
        sum({{ to_reporting_currency('gross_amount', 'rate_to_reporting') }}) as gross_amount,
        sum({{ to_reporting_currency('discount_amount', 'rate_to_reporting') }}) as discount_amount,
        sum({{ to_reporting_currency('refunded_amount', 'rate_to_reporting') }}) as refunded_amount,
        sum({{ to_reporting_currency('gross_amount - discount_amount - refunded_amount', 'rate_to_reporting') }})
            as net_amount,
        max(last_refunded_at) as last_refunded_at
    from {{ ref('int_shop__order_lines') }}
    {% if is_incremental() %}
    where order_id in (select order_id from changed_shop_orders)
    {% endif %}
    group by 1

),

shop_orders as (

    select
        'shop:' || shop_headers.order_id as order_key,
        'shop' as source_system,
        'online' as channel,
        shop_headers.order_id as source_order_id,
        shop_headers.order_name,
        cast(null as {{ dbt.type_string() }}) as location_id,
        shop_headers.created_at as ordered_at,
        cast({{ utc_to_local('shop_headers.created_at', "'" ~ shop_time_zone() ~ "'") }} as date)
            as ordered_on,
        '{{ shop_time_zone() }}' as ordered_time_zone,
        shop_headers.currency,
        shop_headers.rate_to_reporting as fx_rate_to_reporting,
        totals.line_count,
        totals.item_quantity,
        totals.refunded_quantity,
        totals.gross_local,
        totals.discount_local,
        totals.refunded_local,
        totals.gross_amount,
        totals.discount_amount,
        totals.refunded_amount,
        totals.net_amount,
        totals.last_refunded_at,
        shop_headers.is_cancelled,
        shop_headers.cancelled_at,
        shop_headers.cancel_reason,
        shop_headers.financial_status as shop_financial_status,
        shop_headers.discount_code,
        cast(null as {{ dbt.type_string() }}) as payment_method,
        shop_headers._loaded_at,
        'shop:' || shop_headers.shop_customer_id as identity_candidate_1,
        'email:' || shop_headers.customer_email as identity_candidate_2,
        'email:' || shop_headers.email as identity_candidate_3,
        'phone:' || shop_headers.customer_phone_e164 as identity_candidate_4,
        'phone:' || shop_headers.phone_e164 as identity_candidate_5
    from shop_headers
    inner join shop_line_totals as totals on totals.order_id = shop_headers.order_id

),

orders as (

    select * from pos_orders
    union all
    select * from shop_orders

),

candidate_identifiers as (

    select identifier, customer_id
    from {{ ref('int_identity__identifiers') }}
    {% if is_incremental() -%}
    -- a daily run's few orders need few identifiers: filter before the five joins
    where identifier in (
        {%- for i in range(1, 6) %}
        select identity_candidate_{{ i }} from orders{% if not loop.last %} union all{% endif %}
        {%- endfor %}
    )
    {%- endif %}

),

identified as (

    -- the first candidate that resolves wins; every non-hub identifier of one record sits
    -- in the same component, so they agree unless one of them is a hub
    select
        orders.*,
        case
            {% for i in range(1, 6) -%}
            when id_{{ i }}.customer_id is not null then id_{{ i }}.identifier
            {% endfor -%}
        end as identity_key,
        coalesce(
            {%- for i in range(1, 6) %}
            id_{{ i }}.customer_id{% if not loop.last %},{% endif %}
            {%- endfor %}
        ) as customer_id
    from orders
    {% for i in range(1, 6) -%}
    left join candidate_identifiers as id_{{ i }}
        on id_{{ i }}.identifier = orders.identity_candidate_{{ i }}
    {% endfor %}

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
        ordered_on,
        ordered_time_zone,
        currency,
        fx_rate_to_reporting,
        line_count,
        item_quantity,
        refunded_quantity,
        cast(gross_local as decimal(18, 2)) as gross_local,
        cast(discount_local as decimal(18, 2)) as discount_local,
        cast(refunded_local as decimal(18, 2)) as refunded_local,
        cast(gross_local - discount_local - refunded_local as decimal(18, 2)) as net_local,
        cast(gross_amount as decimal(18, 2)) as gross_amount,
        cast(discount_amount as decimal(18, 2)) as discount_amount,
        cast(refunded_amount as decimal(18, 2)) as refunded_amount,
        cast(net_amount as decimal(18, 2)) as net_amount,
        cast(case when is_cancelled then 0 else net_amount end as decimal(18, 2)) as revenue_amount,
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
        -- a purchase is an order that was not cancelled; a fully refunded order still is one
        -- (the customer did buy), with zero net revenue
        not is_cancelled as is_purchase,
        discount_code,
        payment_method,
        _loaded_at,
        current_timestamp::timestamp as _built_at
    from identified
    where ordered_at is not null

)

select * from final
