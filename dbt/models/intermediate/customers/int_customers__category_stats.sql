{{ config(materialized='table') }}

-- Per customer and product category, as of var as_of: how many purchased lines and
-- orders fell in it, the revenue, and its share of the customer's lines. Cancelled
-- orders and lines without a category are left out.
with lines as (

    select * from {{ ref('fct_order_lines') }}
    where customer_id is not null
        and not is_cancelled
        and category is not null
        and ordered_at < {{ as_of_timestamp() }}

),

per_order as (

    -- one row per order and category first: counting orders then needs no DISTINCT
    select
        order_key,
        category,
        any_value(customer_id) as customer_id,
        count(*) as line_count,
        sum(net_quantity) as net_quantity,
        sum(revenue_amount) as revenue_amount,
        max(ordered_at) as ordered_at
    from lines
    group by 1, 2

),

per_category as (

    select
        customer_id,
        category,
        sum(line_count) as line_count,
        count(*) as order_count,
        sum(net_quantity) as net_quantity,
        sum(revenue_amount) as revenue_amount,
        max(ordered_at) as last_bought_at
    from per_order
    group by 1, 2

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
        cast(line_count as double) / sum(line_count) over (partition by customer_id) as line_share,
        row_number() over (
            partition by customer_id
            order by line_count desc, revenue_amount desc, category
        ) as category_rank
    from per_category

)

select * from final
