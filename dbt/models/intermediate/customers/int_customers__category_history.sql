{{ customer_incremental_config(
    delete_stale="delete from {{ this }} as categories where not exists (select 1 from {{ ref('int_customers__purchase_history') }} as history where history.customer_id = categories.customer_id and history._built_at < categories._built_at)"
) }}

-- depends_on: {{ ref('int_customers__purchase_history') }}
with

{{ rebuilt_customers([ref('int_customers__purchase_history')]) }}

lines as (

    select order_key, category, customer_id, net_quantity, revenue_amount, ordered_at
    from {{ ref('fct_order_lines') }}
    where customer_id is not null
        and not is_cancelled
        and category is not null
    {% if is_incremental() -%}
        and customer_id in (select customer_id from rebuilt_customers)
    {%- endif %}

),

{{ category_stats('lines', 'lifetime') }},

final as (

    select
        *,
        current_timestamp::timestamp as _built_at
    from lifetime_category_stats

)

select * from final
