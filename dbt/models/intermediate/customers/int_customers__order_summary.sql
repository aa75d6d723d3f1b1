{{ config(materialized='table') }}
with history as (

    select * from {{ ref('int_customers__purchase_history') }}

),

late_customers as (

    select customer_id from history
    where last_purchase_on > {{ as_of_date() }}

),

late_purchases as (

    select customer_id, channel, ordered_at, ordered_on, revenue_amount
    from {{ ref('fct_orders') }}
    where customer_id in (select customer_id from late_customers)
        and is_purchase
        and ordered_on <= {{ as_of_date() }}

),

{{ purchase_totals('late_purchases', 'as_of') }},

totals as (

    select
        customer_id,
        orders_count,
        in_store_orders_count,
        online_orders_count,
        first_purchase_at,
        last_purchase_at,
        first_purchase_on,
        last_purchase_on,
        revenue_amount,
        purchase_day_count,
        last_return_after_lapse_on
    from history
    where last_purchase_on is null or last_purchase_on <= {{ as_of_date() }}
    union all
    select
        late_customers.customer_id,
        coalesce(recomputed.orders_count, 0),
        coalesce(recomputed.in_store_orders_count, 0),
        coalesce(recomputed.online_orders_count, 0),
        recomputed.first_purchase_at,
        recomputed.last_purchase_at,
        recomputed.first_purchase_on,
        recomputed.last_purchase_on,
        recomputed.revenue_amount,
        coalesce(recomputed.purchase_day_count, 0),
        recomputed.last_return_after_lapse_on
    from late_customers
    left join as_of_totals as recomputed on recomputed.customer_id = late_customers.customer_id

),

vip_window as (

    select
        customer_id,
        count(*) as orders_in_vip_window,
        sum(revenue_amount) as revenue_in_vip_window
    from {{ ref('fct_orders') }}
    where customer_id is not null
        and is_purchase
        -- the var vip_window_days purchase days ending with the as_of day
        and ordered_on > {{ dbt.dateadd('day', -var('vip_window_days'), as_of_date()) }}
        and ordered_on <= {{ as_of_date() }}
    group by 1

),

preferred as (

    select customer_id, category as preferred_category
    from {{ ref('int_customers__category_stats') }}
    where category_rank = 1

),

final as (

    select
        totals.customer_id,
        {{ as_of_date() }} as as_of_date,
        totals.orders_count,
        totals.in_store_orders_count,
        totals.online_orders_count,
        totals.first_purchase_at,
        totals.last_purchase_at,
        totals.first_purchase_on,
        totals.last_purchase_on,
        {{ dbt.datediff('totals.last_purchase_on', as_of_date(), 'day') }}
            as days_since_last_purchase,
        totals.purchase_day_count,
        -- the usual interval: the mean gap between distinct purchase days
        {{ safe_divide(
            dbt.datediff('totals.first_purchase_on', 'totals.last_purchase_on', 'day'),
            'totals.purchase_day_count - 1') }} as avg_days_between_purchases,
        totals.last_return_after_lapse_on,
        cast(coalesce(totals.revenue_amount, 0) as decimal(18, 2)) as revenue_amount,
        -- exact, rounded half-up to the cent (a DECIMAL quotient is a DOUBLE in DuckDB)
        cast({{ divide_half_up('totals.revenue_amount', 'totals.orders_count') }} as decimal(18, 2))
            as average_order_value,
        coalesce(vip_window.orders_in_vip_window, 0) as orders_in_vip_window,
        cast(coalesce(vip_window.revenue_in_vip_window, 0) as decimal(18, 2)) as revenue_in_vip_window,
        preferred.preferred_category,
        case
            when totals.in_store_orders_count > 0 and totals.online_orders_count > 0 then 'both'
            when totals.in_store_orders_count > 0 then 'in_store'
            when totals.online_orders_count > 0 then 'online'
            else 'none'
        end as channel_mix
    from totals
    left join vip_window on vip_window.customer_id = totals.customer_id
    left join preferred on preferred.customer_id = totals.customer_id

)

select * from final
