-- A view over views (dim_sms_consent, the SMS events and the ledger) and the seeds: always
-- current, like consent. A receipt or a ledger failure counts at the next read.
{{ config(materialized=live_view_materialization()) }}

-- Phones that must not receive marketing SMS, one row per phone and reason. Four feeds:
--   opt_out          the phone's latest consent event is an opt-out (dim_sms_consent);
--   hard_bounce      the number cannot take SMS: its hard failures since its last delivered
--                    message reach var sms_hard_failure_limit. A hard failure is a receipt
--                    failed/undelivered with a code in var sms_hard_failure_codes, or a send
--                    the gateway refused as invalid_number (ledger). A message reported twice
--                    is one failure. A delivery resets the count: the number works (a
--                    recycled number, a carrier glitch), so old failures say nothing now;
--   carrier_opt_out  the gateway refused a send because the recipient had opted out at the
--                    carrier (Twilio 21610, ledger outcome unsubscribed): the provider will
--                    refuse every further send, and the person said STOP somewhere we did
--                    not see. Lifted only by a later opt-in reply (START) from the phone,
--                    which is also what lifts the provider's block; a web-form opt-in does
--                    not;
--   manual_block     the manual_blocks seed (operator blocks).
-- A phone may appear under several reasons; any row suppresses it.
with opt_outs as (

    select
        phone_e164,
        'opt_out' as suppression_reason,
        state_since as suppressed_at,
        latest_event_source as suppression_source,
        coalesce('keyword ' || opt_out_keyword, 'opt-out event ' || latest_event_id) as detail
    from {{ ref('dim_sms_consent') }}
    where consent_state = 'opted_out'

),

hard_failures as (

    -- messages whose status ended in a hard failure (forward-only, as everywhere: a failure
    -- reported after "delivered" does not count), one failure per message however often it
    -- was reported
    select
        phone_e164,
        message_key as failure_key,
        delivery_status_at as failed_at,
        delivery_error_code as error_code,
        delivery_status_source as failure_source
    from {{ ref('int_sms__message_status') }}
    where is_hard_failure and phone_e164 is not null

    union all

    -- receipts matched to no message still say the number is dead
    select
        phone_e164,
        'event:' || event_id as failure_key,
        event_at as failed_at,
        error_code,
        event_source as failure_source
    from {{ ref('int_sms__status_events') }}
    where is_hard_failure and message_key is null and phone_e164 is not null

    union all

    -- sends the gateway refused outright: the number is invalid or not a mobile
    select
        phone_e164,
        message_key as failure_key,
        coalesce(final_at, sending_at, scheduled_at) as failed_at,
        error_code,
        'gateway' as failure_source
    from {{ ref('stg_sms__ledger') }}
    where state = 'failed' and outcome = 'invalid_number' and phone_e164 is not null

),

last_deliveries as (

    select phone_e164, max(delivered_at) as last_delivered_at
    from (
        select phone_e164, delivery_status_at as delivered_at
        from {{ ref('int_sms__message_status') }}
        where delivery_status = 'delivered'
        union all
        select phone_e164, event_at
        from {{ ref('int_sms__status_events') }}
        where status = 'delivered' and message_key is null
    ) as deliveries
    where phone_e164 is not null
    group by 1

),

failures_since_delivery as (

    select
        hard_failures.*,
        row_number() over (
            partition by hard_failures.phone_e164
            order by hard_failures.failed_at, hard_failures.failure_key
        ) as failure_number,
        count(*) over (partition by hard_failures.phone_e164) as failure_count
    from hard_failures
    left join last_deliveries on last_deliveries.phone_e164 = hard_failures.phone_e164
    where last_deliveries.last_delivered_at is null
        or hard_failures.failed_at > last_deliveries.last_delivered_at

),

hard_bounces as (

    -- suppressed from the failure that reached the limit; the detail names the latest
    select
        reached.phone_e164,
        'hard_bounce' as suppression_reason,
        reached.failed_at as suppressed_at,
        latest.failure_source as suppression_source,
        cast(reached.failure_count as {{ dbt.type_string() }})
            || ' hard failures since the last delivery, last code '
            || coalesce(latest.error_code, 'none') as detail
    from failures_since_delivery as reached
    inner join failures_since_delivery as latest
        on latest.phone_e164 = reached.phone_e164
        and latest.failure_number = latest.failure_count
    where reached.failure_number = {{ var('sms_hard_failure_limit') }}

),

carrier_refusals as (

    select
        phone_e164,
        coalesce(final_at, sending_at, scheduled_at) as refused_at,
        error_code
    from {{ ref('stg_sms__ledger') }}
    where state = 'failed' and outcome = 'unsubscribed' and phone_e164 is not null
    qualify row_number() over (partition by phone_e164 order by refused_at desc, message_key) = 1

),

reply_opt_ins as (

    select phone_e164, max(event_at) as last_reply_opt_in_at
    from {{ ref('stg_sms__events') }}
    where event_type = 'inbound' and action = 'opt_in' and phone_e164 is not null
    group by 1

),

carrier_opt_outs as (

    select
        carrier_refusals.phone_e164,
        'carrier_opt_out' as suppression_reason,
        carrier_refusals.refused_at as suppressed_at,
        'gateway' as suppression_source,
        'send refused: recipient opted out at the carrier (code '
            || coalesce(carrier_refusals.error_code, 'none') || ')' as detail
    from carrier_refusals
    left join reply_opt_ins on reply_opt_ins.phone_e164 = carrier_refusals.phone_e164
    where reply_opt_ins.last_reply_opt_in_at is null
        or reply_opt_ins.last_reply_opt_in_at <= carrier_refusals.refused_at

),

manual_blocks as (

    select
        trim(phone_e164) as phone_e164,
        'manual_block' as suppression_reason,
        min(blocked_at) as suppressed_at,
        'manual' as suppression_source,
        min(coalesce(reason, '') || case when blocked_by is not null then ' (by ' || blocked_by || ')' else '' end)
            as detail
    from {{ ref('manual_blocks') }}
    where phone_e164 is not null
    group by 1

),

unioned as (

    select * from opt_outs
    union all
    select * from hard_bounces
    union all
    select * from carrier_opt_outs
    union all
    select * from manual_blocks

),

final as (

    select
        unioned.phone_e164 || '|' || unioned.suppression_reason as suppression_key,
        unioned.phone_e164,
        unioned.suppression_reason,
        unioned.suppressed_at,
        unioned.suppression_source,
        unioned.detail,
        identifiers.customer_id
    from unioned
    left join {{ ref('int_identity__identifiers') }} as identifiers
        on identifiers.identifier = 'phone:' || unioned.phone_e164

)

select * from final
