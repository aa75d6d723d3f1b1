-- Receipts arrive late, twice and out of order (a "sent" may come after "delivered"):
-- hence the forward-only rank.
with receipts as (

    select * from {{ ref('int_sms__status_events') }}
    where message_key is not null and status_rank is not null

),

timeline as (

    select
        message_key,
        min(event_at) filter (where status = 'queued') as queued_at,
        min(event_at) filter (where status = 'sent') as carrier_sent_at,
        min(event_at) filter (where status = 'delivered') as delivered_at,
        min(event_at) filter (where status = 'undelivered') as undelivered_at,
        min(event_at) filter (where status = 'failed') as failed_at,
        count(*) as status_event_count,
        max(received_at) as last_receipt_received_at
    from receipts
    group by 1

),

final_status as (

    select
        message_key,
        status,
        event_at as status_at,
        error_code,
        is_hard_failure,
        event_source,
        phone_e164
    from receipts
    qualify row_number() over (
        partition by message_key
        order by status_rank desc, event_at, received_at, event_id
    ) = 1

),

final as (

    select
        timeline.message_key,
        final_status.status as delivery_status,
        final_status.status_at as delivery_status_at,
        final_status.error_code as delivery_error_code,
        final_status.is_hard_failure,
        final_status.event_source as delivery_status_source,
        final_status.phone_e164,
        timeline.queued_at,
        timeline.carrier_sent_at,
        timeline.delivered_at,
        timeline.undelivered_at,
        timeline.failed_at,
        timeline.status_event_count,
        timeline.last_receipt_received_at
    from timeline
    inner join final_status on final_status.message_key = timeline.message_key

)

select * from final
