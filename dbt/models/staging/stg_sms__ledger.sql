with source as (

    select * from {{ optional_relation(source('sms', 'ledger'), {
        'message_key': 'string', 'campaign_id': 'string', 'plan_day': 'date',
        'customer_id': 'string', 'variant': 'string', 'kind': 'string', 'state': 'string',
        'step': 'string', 'reason': 'string', 'phone_e164': 'string', 'time_zone': 'string',
        'country': 'string', 'sender': 'string', 'language': 'string', 'encoding': 'string',
        'segments': 'integer', 'cost_usd': 'double', 'opt_in_event_id': 'string',
        'opt_in_source': 'string', 'opt_in_text_version': 'string',
        'scheduled_at': 'timestamp', 'planned_at': 'timestamp', 'sending_at': 'timestamp',
        'final_at': 'timestamp', 'provider_message_id': 'string', 'error_code': 'string',
        'error': 'string', 'outcome': 'string', 'attempts': 'integer', 'run_id': 'string'
    }) }} as ledger

),

final as (

    -- timestamps are already UTC without a zone (the ledger writes them so); the body is
    -- left out: staging is read by analysts, and the text is personal
    select
        message_key,
        campaign_id,
        plan_day,
        customer_id,
        -- a campaign without variants has one implicit variant; '-' names it in the marts
        coalesce(variant, '-') as variant,
        kind,
        state,
        step,
        reason,
        phone_e164,
        time_zone,
        country,
        sender,
        language,
        encoding,
        segments as sms_segments,
        -- the ledger stores a DOUBLE; prices have at most 4 decimals and segments are whole,
        -- so 6 decimals recover the exact price (the nearest double is within 1e-17 of it)
        -- and every sum after this is exact
        cast(cost_usd as decimal(18, 6)) as cost_usd,
        opt_in_event_id,
        opt_in_source,
        opt_in_text_version,
        scheduled_at,
        planned_at,
        sending_at,
        final_at,
        provider_message_id,
        error_code,
        error,
        outcome,
        attempts
    from source

)

select * from final
