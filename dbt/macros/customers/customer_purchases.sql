{#- Per-customer purchase aggregates, shared by the incremental lifetime history
    (int_customers__purchase_history) and the as-of models that recompute the few
    customers it cannot answer for (int_customers__order_summary, ..._category_stats). -#}

{#- CTE `<prefix>_totals` over a CTE of fct_orders purchases (not cancelled): per customer,
    orders by channel, first and last purchase (instant and local day), revenue, distinct
    purchase days and the last return after a gap of var lapsed_after_days or more. -#}
{% macro purchase_totals(purchases_cte, prefix) %}
{{ prefix }}_purchase_days as (

    -- gaps are measured between distinct purchase days: two orders on one day are one visit
    select
        customer_id,
        ordered_on,
        {{ dbt.datediff(
            'lag(ordered_on) over (partition by customer_id order by ordered_on)',
            'ordered_on', 'day') }} as days_since_previous_purchase
    from (select distinct customer_id, ordered_on from {{ purchases_cte }}) as days

),

{{ prefix }}_gaps as (

    select
        customer_id,
        count(*) as purchase_day_count,
        max(case when days_since_previous_purchase >= {{ var('lapsed_after_days') }}
            then ordered_on end) as last_return_after_lapse_on
    from {{ prefix }}_purchase_days
    group by 1

),

{{ prefix }}_totals as (

    select
        purchases.customer_id,
        count(*) as orders_count,
        count(*) filter (where purchases.channel = 'in_store') as in_store_orders_count,
        count(*) filter (where purchases.channel = 'online') as online_orders_count,
        min(purchases.ordered_at) as first_purchase_at,
        max(purchases.ordered_at) as last_purchase_at,
        -- purchase days (fct_orders.ordered_on, local to where each purchase happened):
        -- the first day need not be the first instant's (a Berlin sale at 00:30 is an
        -- hour earlier in UTC than a New York one at 19:30 the evening before)
        min(purchases.ordered_on) as first_purchase_on,
        max(purchases.ordered_on) as last_purchase_on,
        sum(purchases.revenue_amount) as revenue_amount,
        any_value(gaps.purchase_day_count) as purchase_day_count,
        any_value(gaps.last_return_after_lapse_on) as last_return_after_lapse_on
    from {{ purchases_cte }} as purchases
    inner join {{ prefix }}_gaps as gaps on gaps.customer_id = purchases.customer_id
    group by 1

)
{% endmacro %}

{#- CTE `<prefix>_category_stats` over a CTE of fct_order_lines (customer known, order not
    cancelled, category known): per customer and category, lines, orders, units, revenue,
    the last time bought, the category's share of the customer's lines and its rank. -#}
{% macro category_stats(lines_cte, prefix) %}
{{ prefix }}_per_order as (

    -- one row per order and category first: counting orders then needs no DISTINCT
    select
        order_key,
        category,
        any_value(customer_id) as customer_id,
        count(*) as line_count,
        sum(net_quantity) as net_quantity,
        sum(revenue_amount) as revenue_amount,
        max(ordered_at) as ordered_at
    from {{ lines_cte }}
    group by 1, 2

),

{{ prefix }}_per_category as (

    select
        customer_id,
        category,
        sum(line_count) as line_count,
        count(*) as order_count,
        sum(net_quantity) as net_quantity,
        sum(revenue_amount) as revenue_amount,
        max(ordered_at) as last_bought_at
    from {{ prefix }}_per_order
    group by 1, 2

),

{{ prefix }}_category_stats as (

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
    from {{ prefix }}_per_category

)
{% endmacro %}
