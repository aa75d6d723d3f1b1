with purchases as (

    select ordered_on
    from {{ ref('fct_orders') }}
    where is_purchase

),

summary as (

    -- an aggregate without GROUP BY: exactly one row, also on an empty warehouse
    select
        max(case when ordered_on <= {{ as_of_date() }} then ordered_on end) as newest_purchase_on,
        max(ordered_on) as newest_loaded_purchase_on,
        count(case when ordered_on <= {{ as_of_date() }} then 1 end) as purchases_counted,
        count(case when ordered_on > {{ as_of_date() }} then 1 end) as purchases_after_as_of
    from purchases

),

final as (

    select
        {{ as_of_date() }} as as_of_date,
        {{ as_of_end_timestamp() }} as as_of_ends_at,
        '{{ business_time_zone() }}' as business_time_zone,
        '{{ shop_time_zone() }}' as shop_time_zone,
        newest_purchase_on,
        {{ dbt.datediff('newest_purchase_on', as_of_date(), 'day') }} as days_since_newest_purchase,
        coalesce(
            {{ dbt.datediff('newest_purchase_on', as_of_date(), 'day') }}
                > {{ var('as_of_stale_after_days') }},
            true
        ) as is_stale,
        newest_loaded_purchase_on,
        purchases_counted,
        purchases_after_as_of,
        current_timestamp::timestamp as _built_at
    from summary

)

select * from final
