{{ config(materialized='view') }}

-- Per customer and product category, as of var as_of: how many purchased lines and
-- orders fell in it, the revenue, and its share of the customer's lines. Cancelled
-- orders and lines without a category are left out.
--
-- A customer whose purchase days all lie on or before as_of (on a daily run, everyone but
-- those with a purchase dated after it) takes the rows kept in
-- int_customers__category_history; the others are recomputed from fct_order_lines with
-- purchases up to as_of only (the same macro), so any as_of gives exact figures. A view:
-- it is a scan of that table plus a handful of recomputed customers.
with late_customers as (

    select customer_id from {{ ref('int_customers__purchase_history') }}
    where last_purchase_on > {{ as_of_date() }}

),

late_lines as (

    select order_key, category, customer_id, net_quantity, revenue_amount, ordered_at
    from {{ ref('fct_order_lines') }}
    where customer_id in (select customer_id from late_customers)
        and not is_cancelled
        and category is not null
        and ordered_on <= {{ as_of_date() }}

),

{{ category_stats('late_lines', 'as_of') }},

kept as (

    select * exclude (_built_at) from {{ ref('int_customers__category_history') }}
    where customer_id not in (select customer_id from late_customers)

),

final as (

    select
        customer_id,
        category,
        line_count,
        order_count,
        net_quantity,
        revenue_amount,
        last_bought_at,
        line_share,
        category_rank
    from kept
    union all
    select
        customer_id,
        category,
        line_count,
        order_count,
        net_quantity,
        revenue_amount,
        last_bought_at,
        line_share,
        category_rank
    from as_of_category_stats

)

select * from final
