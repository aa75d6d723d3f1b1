-- One row per customer invoice in its latest delivered state: an invoice is re-delivered
-- when it is partly paid, paid or voided; the latest delivery wins, and on one delivery
-- day the further state wins (open < partially paid < paid < void). Exact re-exports of a
-- line collapse into it.
with source as (

    select * from {{ source('raw', 'pos_invoices') }}

),

renamed as (

    select
        trim(invoice_id) as invoice_id,
        trim(location_id) as location_id,
        nullif(trim(loyalty_id), '') as loyalty_id,
        -- an invalid number is no number: it links nobody and is never messaged
        case when customer_phone_is_valid then customer_phone_e164 end as phone_e164,
        case when customer_phone_is_valid then customer_phone_region end as phone_region,
        amount,
        balance,
        upper(trim(currency)) as currency,
        issued_on,
        due_on,
        paid_on,
        -- 'partially paid' as exports print it, partially_paid as the marts name it
        replace(lower(trim(status)), ' ', '_') as status,
        _partition_date as delivered_on,
        _loaded_at,
        _source_file,
        _source_line
    from source

),

final as (

    select
        invoice_id,
        location_id,
        loyalty_id,
        phone_e164,
        phone_region,
        amount,
        balance,
        currency,
        issued_on,
        due_on,
        paid_on,
        status,
        {{ is_future_dated('issued_on', 'delivered_on') }} as is_future_dated,
        min(delivered_on) over (partition by invoice_id) as first_delivered_on,
        delivered_on as last_delivered_on,
        max(_loaded_at) over (partition by invoice_id) as _loaded_at
    from renamed
    qualify row_number() over (
        partition by invoice_id
        order by delivered_on desc,
            case status when 'void' then 3 when 'paid' then 2 when 'partially_paid' then 1
                when 'open' then 0 end desc nulls last,
            _source_file, _source_line
    ) = 1

)

select * from final
