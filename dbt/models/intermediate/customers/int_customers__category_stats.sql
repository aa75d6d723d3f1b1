{{ config(materialized='view') }}

-- A view: a scan of int_customers__category_history plus a handful of recomputed customers.
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

    select {{ columns_except(ref('int_customers__category_history'), ['_built_at']) }}
    from {{ ref('int_customers__category_history') }}
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
