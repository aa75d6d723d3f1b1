-- One row per customer with at least one open invoice at the as_of day: how much they owe
-- and since when. Built on fct_invoices; the money rules are in the yml.
with open_invoices as (

    select * from {{ ref('fct_invoices') }}
    where is_open
        and customer_id is not null

),

final as (

    select
        customer_id,
        count(*) as open_invoices,
        count(case when is_overdue then 1 end) as overdue_invoices,
        count(case when not is_known_currency then 1 end) as unconverted_open_invoices,
        cast(coalesce(sum(open_amount_reporting), 0) as decimal(18, 2)) as open_amount,
        cast(coalesce(sum(case when is_overdue then open_amount_reporting end), 0)
            as decimal(18, 2)) as overdue_amount,
        case when min(currency) = max(currency) then min(currency) end as currency,
        case when min(currency) = max(currency)
            then cast(sum(open_amount) as decimal(18, 2)) end as open_amount_local,
        min(due_on) as oldest_due_on,
        min(case when due_on >= {{ as_of_date() }} then due_on end) as next_due_on,
        max(days_past_due) as max_days_past_due,
        {{ as_of_date() }} as as_of_date,
        current_timestamp::timestamp as _built_at
    from open_invoices
    group by customer_id

)

select * from final
