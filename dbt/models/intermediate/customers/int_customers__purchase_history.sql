{{ customer_incremental_config(
    delete_stale="delete from {{ this }} where customer_id not in (select customer_id from {{ ref('int_identity__customers') }})"
) }}

-- depends_on: {{ ref('int_identity__identifiers') }}

-- Every customer's purchase totals over everything loaded (no as_of): the figures the
-- customer marts start from, so a daily run reads one row per customer instead of
-- re-aggregating every order. int_customers__order_summary takes a customer from here
-- when all their purchases lie before var as_of (on a daily run, everyone but those with
-- a purchase dated on the as_of day itself) and recomputes the others from fct_orders.
--
-- Incremental (delete + insert on customer_id): a run rebuilds the customers with an
-- order fct_orders wrote since this model's last build (new orders, refunds, orders moved
-- by a merge) and those with an identifier identity resolution wrote since (merged or
-- split customers, new prospects); customers merged away are deleted (post-hook). A full
-- refresh gives the same rows. Depends on var lapsed_after_days (the lapse gap): change
-- it, then `--full-refresh`.
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
