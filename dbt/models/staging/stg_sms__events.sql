with source as (

    select * from {{ optional_relation(source('raw', 'sms_events'), {
        'event_id': 'string', 'received_at': 'timestamptz', 'occurred_at': 'timestamptz',
        'source': 'string', 'event_type': 'string', 'message_key': 'string',
        'provider_message_id': 'string', 'status': 'string', 'provider_status': 'string',
        'error_code': 'string', 'phone': 'string', 'our_number': 'string', 'text': 'string',
        'keyword': 'string', 'action': 'string', 'language': 'string', 'reply_text': 'string',
        'token': 'string', 'target_url': 'string', 'user_agent': 'string',
        '_source_file': 'string', '_source_line': 'bigint', '_loaded_at': 'timestamptz'
    }) }} as raw_events

),

renamed as (

    select
        trim(event_id) as event_id,
        {{ to_utc('received_at') }} as received_at,
        {{ to_utc('occurred_at') }} as occurred_at,
        lower(trim(source)) as event_source,
        lower(trim(event_type)) as event_type,
        nullif(trim(message_key), '') as message_key,
        nullif(trim(provider_message_id), '') as provider_message_id,
        lower(trim(status)) as status,
        provider_status,
        nullif(trim(error_code), '') as error_code,
        -- the receiver passes the provider's number through; only a valid E.164 number can
        -- be matched to consent and the ledger
        case when {{ is_e164_sql('trim(phone)') }} then trim(phone) end as phone_e164,
        phone as phone_raw,
        our_number,
        text,
        nullif(upper(trim(keyword)), '') as keyword,
        lower(trim(action)) as action,
        lower(trim(language)) as language,
        reply_text,
        nullif(trim(token), '') as token,
        target_url,
        user_agent,
        _source_file,
        _source_line,
        {{ to_utc('_loaded_at') }} as _loaded_at
    from source

),

deduplicated as (

    -- ingest already drops a repeated event_id on insert; this keeps the key a key even if
    -- a table is ever loaded without that constraint. event_type is in the partition although
    -- the id alone decides (it hashes the type's own identity fields): a filter on the type
    -- (consent reads only replies, suppression only receipts) is then pushed below the
    -- window instead of deduplicating every click and receipt on each read of the live views
    select * from renamed
    qualify row_number() over (
        partition by event_type, event_id order by _loaded_at, _source_file, _source_line
    ) = 1

),

final as (

    select
        event_id,
        event_type,
        event_source,
        -- the provider's time when it sent one, else when we received it; never later than
        -- receipt (an event cannot happen after we heard of it: a provider clock running
        -- ahead must not postpone a STOP or reorder receipts)
        case
            when occurred_at is not null and occurred_at <= received_at then occurred_at
            else received_at
        end as event_at,
        occurred_at,
        received_at,
        message_key,
        provider_message_id,
        status,
        {{ sms_status_rank('status') }} as status_rank,
        provider_status,
        error_code,
        phone_e164,
        phone_raw,
        our_number,
        text,
        keyword,
        action,
        language,
        reply_text,
        token,
        target_url,
        user_agent,
        _source_file,
        _source_line,
        _loaded_at
    from deduplicated

)

select * from final
