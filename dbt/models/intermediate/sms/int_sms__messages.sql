{{ config(materialized='table') }}

-- A table: five models read it, and it ranks every receipt once instead of five times.
with ledger as (

    select * from {{ ref('stg_sms__ledger') }}
    where state <> 'skipped'

),

status as (

    select * from {{ ref('int_sms__message_status') }}

),

customers as (

    select customer_id from {{ ref('int_identity__customers') }}

),

merged_away as (

    -- a customer merged into another after the plan no longer exists under the planned id;
    -- customer_id is the hash of the customer's anchor identifier (int_identity__identifiers),
    -- and that identifier now resolves to the surviving customer
    select distinct ledger.customer_id as planned_customer_id, identifiers.customer_id
    from ledger
    inner join {{ ref('int_identity__identifiers') }} as identifiers
        on {{ short_hash(['identifiers.identifier']) }} = ledger.customer_id
    where ledger.customer_id not in (select customer_id from customers)
        and identifiers.customer_id is not null

),

joined as (

    select
        ledger.*,
        coalesce(merged_away.customer_id, ledger.customer_id) as current_customer_id,
        status.delivery_status,
        status.delivery_status_at,
        status.delivery_error_code,
        status.queued_at,
        status.carrier_sent_at,
        status.delivered_at,
        status.undelivered_at,
        status.failed_at,
        coalesce(status.status_event_count, 0) as status_event_count,
        -- sent = accepted by the gateway; a message whose fate was unknown after a crash
        -- (sending, unknown) but that has receipts evidently was accepted too
        ledger.state = 'accepted'
            or (ledger.state in ('sending', 'unknown') and status.message_key is not null) as is_sent
    from ledger
    left join status on status.message_key = ledger.message_key
    left join merged_away on merged_away.planned_customer_id = ledger.customer_id

),

final as (

    select
        message_key,
        campaign_id,
        variant,
        plan_day,
        current_customer_id as customer_id,
        customer_id as planned_customer_id,
        phone_e164,
        case when state = 'held_out' then 'holdout' else 'treatment' end as arm,
        state as ledger_state,
        kind,
        country,
        language,
        encoding,
        sms_segments,
        -- a held-out message is never sent and costs nothing
        case when state = 'held_out' then 0 else coalesce(cost_usd, 0) end as cost_usd,
        scheduled_at,
        is_sent,
        case when is_sent then sending_at end as sent_at,
        case when state = 'accepted' then final_at end as accepted_at,
        state = 'failed' as is_send_failed,
        error_code,
        outcome,
        delivery_status,
        delivery_status_at,
        delivery_error_code,
        queued_at,
        carrier_sent_at,
        delivered_at,
        undelivered_at,
        failed_at,
        status_event_count,
        -- where the attribution and lift windows start: when a treated message went out,
        -- when a held-out one would have
        case
            when state = 'held_out' then scheduled_at
            when is_sent then sending_at
        end as attribution_anchor_at
    from joined

)

select * from final
