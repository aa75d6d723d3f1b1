-- POS item rows (sales and refunds), one per (transaction, event type, SKU): exact
-- duplicates and re-delivered lines removed (the first delivery day wins; copies within
-- one delivery day are identical lines, so which one stays does not matter), money
-- converted to the reporting currency. The logic lives in the pos_transactions_staged
-- macro because the incremental int_pos__order_lines applies it to changed rows only.
with source as (

    select * from {{ ref('base_pos__transactions') }}

),

{{ pos_transactions_staged('source') }},

final as (

    select * from pos_converted

)

select * from final
