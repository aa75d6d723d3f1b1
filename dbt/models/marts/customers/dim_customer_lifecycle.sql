with summary as (

    select * from {{ ref('int_customers__order_summary') }}

),

measured as (

    select
        customer_id,
        orders_count,
        first_purchase_on,
        last_purchase_on,
        last_return_after_lapse_on,
        {{ dbt.datediff('last_purchase_on', as_of_date(), 'day') }} as days_since_last_purchase,
        {{ dbt.datediff('first_purchase_on', as_of_date(), 'day') }} as days_since_first_purchase,
        {{ dbt.datediff('last_return_after_lapse_on', as_of_date(), 'day') }} as days_since_reactivation
    from summary

),

staged as (

    select
        *,
        case
            when orders_count = 0 or last_purchase_on is null then 'prospect'
            when days_since_last_purchase >= {{ var('lapsed_after_days') }} then 'lapsed'
            when days_since_last_purchase >= {{ var('at_risk_after_days') }} then 'at_risk'
            when days_since_first_purchase < {{ var('new_customer_days') }} then 'new'
            when days_since_reactivation < {{ var('reactivated_window_days') }} then 'reactivated'
            else 'active'
        end as lifecycle_stage
    from measured

),

final as (

    select
        customer_id,
        {{ as_of_date() }} as as_of_date,
        lifecycle_stage,
        case lifecycle_stage
            when 'prospect' then 'no purchase on record'
            when 'lapsed' then 'last purchase ' || cast(days_since_last_purchase as {{ dbt.type_string() }})
                || ' days ago (lapsed from {{ var("lapsed_after_days") }})'
            when 'at_risk' then 'last purchase ' || cast(days_since_last_purchase as {{ dbt.type_string() }})
                || ' days ago (at risk from {{ var("at_risk_after_days") }})'
            when 'new' then 'first purchase ' || cast(days_since_first_purchase as {{ dbt.type_string() }})
                || ' days ago (new for {{ var("new_customer_days") }})'
            when 'reactivated' then 'came back ' || cast(days_since_reactivation as {{ dbt.type_string() }})
                || ' days ago after a gap of {{ var("lapsed_after_days") }}+ days'
            else 'last purchase ' || cast(days_since_last_purchase as {{ dbt.type_string() }}) || ' days ago'
        end as stage_reason,
        orders_count,
        first_purchase_on,
        last_purchase_on,
        days_since_last_purchase,
        last_return_after_lapse_on as reactivated_on
    from staged

)

select * from final
