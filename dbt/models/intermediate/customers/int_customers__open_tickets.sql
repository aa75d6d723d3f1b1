-- Customers with at least one support ticket open in its latest known state (opened by the
-- end of the as_of day in the business's zone). Ticket status is the latest delivered, not a history: a past as_of sees today's
-- status of the tickets that existed then.
with tickets as (

    select * from {{ ref('stg_crm__tickets') }}
    where is_open
        and not is_future_dated
        and created_at < {{ as_of_end_timestamp() }}

),

final as (

    select
        identifiers.customer_id,
        count(*) as open_ticket_count,
        min(tickets.created_at) as oldest_open_ticket_at,
        max(tickets.ticket_id) as latest_open_ticket_id,
        bool_or(tickets.priority = 'high') as has_high_priority_ticket
    from tickets
    inner join {{ ref('int_identity__identifiers') }} as identifiers
        on identifiers.identifier = 'crm:' || tickets.contact_id
    where identifiers.customer_id is not null
    group by 1

)

select * from final
