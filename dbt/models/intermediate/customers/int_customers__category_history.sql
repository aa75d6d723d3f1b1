{{ customer_incremental_config(
    delete_stale="delete from {{ this }} as categories where not exists (select 1 from {{ ref('int_customers__purchase_history') }} as history where history.customer_id = categories.customer_id and history._built_at < categories._built_at)"
) }}

-- depends_on: {{ ref('int_customers__purchase_history') }}

-- Per customer and product category over everything loaded (no as_of): lines, orders,
-- units and revenue, the last time bought, the category's share of the customer's lines
-- and its rank. int_customers__category_stats takes a customer from here when all their
-- purchases lie before var as_of and recomputes the others from fct_order_lines.
--
-- Incremental: the customers int_customers__purchase_history rebuilt since this model's
-- last build are rebuilt here (delete + insert on customer_id removes all their rows
-- first). A row older than its customer's purchase_history row belongs to a customer
-- rebuilt with fewer categories, or to one merged away: the post-hook deletes it. A full
-- refresh gives the same rows.
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
