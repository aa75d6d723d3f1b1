with status_events as (

    select * from {{ ref('stg_sms__events') }}
    where event_type = 'status'

),

ledger as (

    select message_key, provider_message_id, phone_e164
    from {{ ref('stg_sms__ledger') }}

),

ledger_by_provider_id as (

    -- an id two ledger rows share (two providers' id spaces colliding) identifies neither
    select
        provider_message_id,
        min(message_key) as message_key,
        min(phone_e164) as phone_e164
    from ledger
    where provider_message_id is not null
    group by 1
    having count(*) = 1

),

resolved as (

    select
        status_events.*,
        coalesce(by_key.message_key, by_provider_id.message_key) as resolved_message_key,
        case
            when by_key.message_key is not null then 'message_key'
            when by_provider_id.message_key is not null then 'provider_message_id'
        end as matched_by,
        coalesce(by_key.phone_e164, by_provider_id.phone_e164) as ledger_phone_e164
    from status_events
    left join ledger as by_key
        on by_key.message_key = status_events.message_key
    left join ledger_by_provider_id as by_provider_id
        on by_provider_id.provider_message_id = status_events.provider_message_id

),

final as (

    select
        event_id,
        resolved_message_key as message_key,
        message_key as reported_message_key,
        matched_by,
        provider_message_id,
        event_source,
        status,
        status_rank,
        provider_status,
        error_code,
        status in ('failed', 'undelivered')
            and coalesce(error_code in {{ sms_hard_failure_codes_in_list() }}, false) as is_hard_failure,
        coalesce(phone_e164, ledger_phone_e164) as phone_e164,
        event_at,
        received_at
    from resolved

)

select * from final
