{{ config(materialized='table') }}
with summary as (

    select * from {{ ref('int_customers__order_summary') }}

),

buyers as (

    -- a sum and a count, not avg(): avg of a DECIMAL is a binary DOUBLE in DuckDB
    select
        count(*) as buyer_count,
        coalesce(sum(revenue_amount), 0) as buyer_revenue
    from summary
    where orders_count > 0

),

average as (

    select
        {{ divide_half_up('buyer_revenue', 'buyer_count') }} as average_customer_revenue,
        {{ divide_half_up('buyer_revenue * ' ~ var('big_spender_multiple'), 'buyer_count',
            input_scale=6, rounding='ceiling') }} as big_spender_threshold
    from buyers

),

ranked as (

    select
        summary.customer_id,
        summary.orders_count,
        summary.revenue_amount,
        summary.orders_in_vip_window,
        summary.revenue_in_vip_window,
        average.average_customer_revenue,
        average.big_spender_threshold,
        case when summary.orders_in_vip_window > 0 then
            cume_dist() over (
                partition by summary.orders_in_vip_window > 0
                order by summary.revenue_in_vip_window desc
            )
        end as window_revenue_top_share
    from summary
    cross join average

),

final as (

    select
        customer_id,
        revenue_amount,
        cast(average_customer_revenue as decimal(18, 2)) as average_customer_revenue,
        cast(big_spender_threshold as decimal(18, 2)) as big_spender_threshold,
        orders_count > 0 and revenue_amount >= big_spender_threshold as is_big_spender,
        orders_in_vip_window,
        revenue_in_vip_window,
        window_revenue_top_share,
        coalesce(
            window_revenue_top_share <= {{ var('vip_top_share') }}
            and orders_in_vip_window >= {{ var('vip_min_orders') }},
            false
        ) as is_vip,
        case
            when orders_count = 0 then 'none'
            when orders_in_vip_window = 0 then 'inactive'
            when window_revenue_top_share <= {{ var('vip_top_share') }}
                and orders_in_vip_window >= {{ var('vip_min_orders') }} then 'vip'
            when window_revenue_top_share <= 0.25 then 'high'
            when window_revenue_top_share <= 0.60 then 'medium'
            else 'low'
        end as value_tier
    from ranked

)

select * from final
