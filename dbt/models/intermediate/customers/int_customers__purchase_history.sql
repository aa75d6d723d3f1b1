{{ customer_incremental_config(
    delete_stale="delete from {{ this }} where customer_id not in (select customer_id from {{ ref('int_identity__customers') }})"
) }}

-- depends_on: {{ ref('int_identity__identifiers') }}
with

{{ rebuilt_customers([ref('fct_orders'), ref('int_identity__identifiers')]) }}

customers as (

    select customer_id from {{ ref('int_identity__customers') }}
    {% if is_incremental() -%}
    where customer_id in (select customer_id from rebuilt_customers)
    {%- endif %}

),

purchases as (

    select customer_id, channel, ordered_at, ordered_on, revenue_amount
    from {{ ref('fct_orders') }}
    where customer_id is not null
        and is_purchase
    {% if is_incremental() -%}
        and customer_id in (select customer_id from rebuilt_customers)
    {%- endif %}

),

{{ purchase_totals('purchases', 'lifetime') }},

final as (

    select
        customers.customer_id,
        coalesce(totals.orders_count, 0) as orders_count,
        coalesce(totals.in_store_orders_count, 0) as in_store_orders_count,
        coalesce(totals.online_orders_count, 0) as online_orders_count,
        totals.first_purchase_at,
        totals.last_purchase_at,
        totals.first_purchase_on,
        totals.last_purchase_on,
        totals.revenue_amount,
        coalesce(totals.purchase_day_count, 0) as purchase_day_count,
        totals.last_return_after_lapse_on,
        current_timestamp::timestamp as _built_at
    from customers
    left join lifetime_totals as totals on totals.customer_id = customers.customer_id

)

select * from final
