-- Who may receive a marketing SMS today: one row per customer, with the phone to text
-- and the opt-in record every send must carry. Campaign plans start from here and narrow
-- it by segment, filters, caps, holdout and send window; nobody outside it is ever sent
-- marketing. A customer is in when all of these hold:
--   * the customer's phone has an explicit opt-in as its latest consent event, with its
--     source and text version on record (dim_sms_consent.has_complete_opt_in_record);
--   * the phone is not suppressed for any reason (opt-out, hard bounce, manual block);
--   * the phone is a valid number of a type that takes SMS (var sms_phone_types);
--   * the phone is not a hub shared by many accounts (it belongs to nobody in particular).
-- The compliance gate (expectations/sms_audience.json) re-checks every row against the
-- live consent events and the suppression list before anything downstream may run.
with customers as (

    select
        customer_id,
        sms_opted_in_phone_e164 as phone_e164,
        first_name,
        language,
        country,
        time_zone,
        time_zone_is_estimate,
        age_band,
        lifecycle_stage,
        has_open_ticket,
        as_of_date
    from {{ ref('dim_customers') }}
    where sms_consent_state = 'opted_in'
        and sms_opted_in_phone_e164 is not null

),

consent as (

    select
        phone_e164,
        opt_in_event_id,
        opt_in_source,
        opted_in_at,
        opt_in_text_version
    from {{ ref('dim_sms_consent') }}
    where consent_state = 'opted_in'
        and has_complete_opt_in_record
        and not is_shared_hub_phone

),

suppressed as (

    select distinct phone_e164 from {{ ref('dim_sms_suppression') }}

),

phone_types as (

    select phone_e164, min(phone_type) as phone_type
    from {{ ref('stg_crm__consent_events') }}
    where phone_e164 is not null
    group by 1

),

segments as (

    select customer_id, list(segment order by segment) as segments
    from {{ ref('dim_customer_segments') }}
    group by 1

),

final as (

    select
        customers.customer_id,
        customers.phone_e164,
        phone_types.phone_type,
        consent.opt_in_event_id,
        consent.opt_in_source,
        consent.opted_in_at,
        consent.opt_in_text_version,
        customers.first_name,
        customers.language,
        customers.country,
        customers.time_zone,
        customers.time_zone_is_estimate,
        customers.age_band,
        customers.lifecycle_stage,
        customers.has_open_ticket,
        coalesce(segments.segments, []) as segments,
        customers.as_of_date
    from customers
    inner join consent on consent.phone_e164 = customers.phone_e164
    inner join phone_types on phone_types.phone_e164 = customers.phone_e164
    left join suppressed on suppressed.phone_e164 = customers.phone_e164
    left join segments on segments.customer_id = customers.customer_id
    where suppressed.phone_e164 is null
        and list_contains({{ sms_phone_types_list() }}, phone_types.phone_type)
    -- Identity resolution links records sharing a phone into one customer, so a phone
    -- has one customer; should two ever share it, the lowest id keeps it (one text per
    -- handset) and the gate's uniqueness expectation would say so.
    qualify row_number() over (partition by customers.phone_e164 order by customers.customer_id) = 1

)

select * from final
