{{ config(materialized='table') }}

-- One row per customer (buyers and prospects) with their purchase history as of var
-- as_of: only purchases (orders not cancelled) placed before 00:00 UTC of that day count.
-- The input of lifecycle, RFM, value and repeat-purchase logic.
with customers as (

    select customer_id from {{ ref('int_identity__customers') }}

),

purchases as (

    select * from {{ ref('fct_orders') }}
    where customer_id is not null
        and is_purchase
        and ordered_at < {{ as_of_timestamp() }}

),

purchase_days as (

    -- gaps are measured between distinct purchase days: two orders on one day are one visit
    select
        customer_id,
        ordered_on,
        {{ dbt.datediff(
            'lag(ordered_on) over (partition by customer_id order by ordered_on)',
            'ordered_on', 'day') }} as days_since_previous_purchase
    from (select distinct customer_id, ordered_on from purchases) as days

),

gaps as (

    select
        customer_id,
        count(*) as purchase_day_count,
        max(case when days_since_previous_purchase >= {{ var('lapsed_after_days') }}
            then ordered_on end) as last_return_after_lapse_on
    from purchase_days
    group by 1

),

totals as (

    select
        customer_id,
        count(*) as orders_count,
        count(*) filter (where channel = 'in_store') as in_store_orders_count,
        count(*) filter (where channel = 'online') as online_orders_count,
        min(ordered_at) as first_purchase_at,
        max(ordered_at) as last_purchase_at,
        sum(revenue_amount) as revenue_amount,
        count(*) filter (
            where ordered_at >= {{ dbt.dateadd('day', -var('vip_window_days'), as_of_timestamp()) }}
        ) as orders_in_vip_window,
        coalesce(sum(revenue_amount) filter (
            where ordered_at >= {{ dbt.dateadd('day', -var('vip_window_days'), as_of_timestamp()) }}
        ), 0) as revenue_in_vip_window
    from purchases
    group by 1

),

preferred as (

    select customer_id, category as preferred_category
    from {{ ref('int_customers__category_stats') }}
    where category_rank = 1

),

final as (

    select
        customers.customer_id,
        {{ as_of_date() }} as as_of_date,
        coalesce(totals.orders_count, 0) as orders_count,
        coalesce(totals.in_store_orders_count, 0) as in_store_orders_count,
        coalesce(totals.online_orders_count, 0) as online_orders_count,
        totals.first_purchase_at,
        totals.last_purchase_at,
        cast(totals.first_purchase_at as date) as first_purchase_on,
        cast(totals.last_purchase_at as date) as last_purchase_on,
        {{ dbt.datediff('cast(totals.last_purchase_at as date)', as_of_date(), 'day') }}
            as days_since_last_purchase,
        coalesce(gaps.purchase_day_count, 0) as purchase_day_count,
        -- the usual interval: the mean gap between distinct purchase days
        {{ safe_divide(
            dbt.datediff('cast(totals.first_purchase_at as date)', 'cast(totals.last_purchase_at as date)', 'day'),
            'gaps.purchase_day_count - 1') }} as avg_days_between_purchases,
        gaps.last_return_after_lapse_on,
        cast(coalesce(totals.revenue_amount, 0) as decimal(18, 2)) as revenue_amount,
        cast({{ safe_divide('totals.revenue_amount', 'totals.orders_count') }} as decimal(18, 2))
            as average_order_value,
        coalesce(totals.orders_in_vip_window, 0) as orders_in_vip_window,
        cast(coalesce(totals.revenue_in_vip_window, 0) as decimal(18, 2)) as revenue_in_vip_window,
        preferred.preferred_category,
        case
            when totals.in_store_orders_count > 0 and totals.online_orders_count > 0 then 'both'
            when totals.in_store_orders_count > 0 then 'in_store'
            when totals.online_orders_count > 0 then 'online'
            else 'none'
        end as channel_mix
    from customers
    left join totals on totals.customer_id = customers.customer_id
    left join gaps on gaps.customer_id = customers.customer_id
    left join preferred on preferred.customer_id = customers.customer_id

)

select * from final
