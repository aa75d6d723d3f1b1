-- SMS consent events, one per event_id (re-delivered copies removed). Phones are the
-- E.164 form only when valid; an event on an invalid number cannot be applied to anyone.
with source as (

    select * from {{ source('raw', 'crm_consent') }}

),

renamed as (

    select
        trim(event_id) as event_id,
        nullif(trim(contact_id), '') as contact_id,
        phone as phone_raw,
        case when phone_is_valid then phone_e164 end as phone_e164,
        coalesce(phone_is_valid, false) as phone_is_valid,
        case when phone_is_valid then phone_region end as phone_region,
        case when phone_is_valid then phone_type end as phone_type,
        nullif(upper(trim(country_code)), '') as country_code,
        lower(trim(event_type)) as event_type,
        lower(trim(source)) as consent_source,
        {{ to_utc('occurred_at') }} as occurred_at,
        nullif(trim(consent_text_version), '') as consent_text_version,
        nullif(upper(trim(keyword)), '') as keyword,
        _partition_date as delivered_on,
        _loaded_at,
        _source_file,
        _source_line
    from source

),

deduplicated as (

    select * from renamed
    qualify row_number() over (
        partition by event_id order by delivered_on, _source_file, _source_line
    ) = 1

),

final as (

    select
        event_id,
        contact_id,
        phone_raw,
        phone_e164,
        phone_is_valid,
        phone_region,
        phone_type,
        country_code,
        event_type,
        consent_source,
        occurred_at,
        consent_text_version,
        keyword,
        {{ is_future_dated('occurred_at', 'delivered_on') }} as is_future_dated,
        delivered_on,
        _loaded_at
    from deduplicated

)

select * from final
