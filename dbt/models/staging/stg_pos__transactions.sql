-- The logic lives in macro pos_transactions_staged: the incremental int_pos__order_lines
-- applies it to changed rows only.
with source as (

    select * from {{ ref('base_pos__transactions') }}

),

{{ pos_transactions_staged('source') }},

final as (

    select * from pos_converted

)

select * from final
