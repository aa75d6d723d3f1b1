-- A view, not a table: consent is read when it is used, so an opt-out loaded after the
-- last dbt build takes effect at the next plan, gate or dispatch without a rebuild.
{{ config(materialized='view') }}

-- The latest SMS consent state of every valid E.164 phone that has consent events.
--
-- Consent belongs to the phone number, not to a person: whoever holds the number said
-- yes or STOP. Latest event wins, ordered by the time it took effect; on a tie an opt-out
-- wins. An event whose timestamp lies after its own delivery day (a clock error):
--   * an opt-out takes effect at the start of the day it was delivered (a STOP is never
--     ignored because its clock is wrong);
--   * an opt-in is not evidence of consent (its time is unknown, and the opt-in's time is
--     what a send must be able to show), so it is ignored.
-- Consent is NOT bounded by var as_of: an opt-out must take effect before the next send,
-- whatever day the marts describe. Phones without any event are absent (no consent).
with events as (

    select * from {{ ref('stg_crm__consent_events') }}
    where phone_e164 is not null

),

effective as (

    select
        *,
        case
            when not is_future_dated then occurred_at
            when event_type = 'opt_out' then cast(delivered_on as timestamp)
        end as effective_at
    from events

),

usable as (

    select * from effective
    where effective_at is not null and event_type in ('opt_in', 'opt_out')

),

latest as (

    select
        phone_e164,
        event_id,
        event_type,
        effective_at,
        consent_source,
        keyword,
        contact_id,
        count(*) over (partition by phone_e164) as event_count,
        count(distinct contact_id) over (partition by phone_e164) as contact_count
    from usable
    qualify row_number() over (
        partition by phone_e164
        order by effective_at desc, (event_type = 'opt_out') desc, event_id desc
    ) = 1

),

latest_opt_in as (

    select
        phone_e164,
        event_id,
        effective_at,
        consent_source,
        consent_text_version,
        keyword,
        contact_id
    from usable
    where event_type = 'opt_in'
    qualify row_number() over (
        partition by phone_e164 order by effective_at desc, event_id desc
    ) = 1

),

latest_opt_out as (

    select
        phone_e164,
        event_id,
        effective_at,
        is_future_dated,
        consent_source,
        keyword
    from usable
    where event_type = 'opt_out'
    qualify row_number() over (
        partition by phone_e164 order by effective_at desc, event_id desc
    ) = 1

),

final as (

    select
        latest.phone_e164,
        identifiers.customer_id,
        case latest.event_type when 'opt_in' then 'opted_in' else 'opted_out' end as consent_state,
        latest.effective_at as state_since,
        latest.event_id as latest_event_id,
        latest.consent_source as latest_event_source,
        coalesce(latest.contact_id, latest_opt_in.contact_id) as crm_contact_id,
        latest_opt_in.event_id as opt_in_event_id,
        latest_opt_in.consent_source as opt_in_source,
        latest_opt_in.effective_at as opted_in_at,
        latest_opt_in.consent_text_version as opt_in_text_version,
        latest_opt_in.keyword as opt_in_keyword,
        latest_opt_out.event_id as opt_out_event_id,
        latest_opt_out.effective_at as opted_out_at,
        latest_opt_out.keyword as opt_out_keyword,
        coalesce(latest_opt_out.is_future_dated, false) as opt_out_time_repaired,
        latest.event_type = 'opt_in'
            and latest_opt_in.consent_source is not null
            and latest_opt_in.consent_text_version is not null as has_complete_opt_in_record,
        latest.event_count,
        coalesce(identifiers.is_hub, false) as is_shared_hub_phone
    from latest
    left join latest_opt_in on latest_opt_in.phone_e164 = latest.phone_e164
    left join latest_opt_out on latest_opt_out.phone_e164 = latest.phone_e164
    left join {{ ref('int_identity__identifiers') }} as identifiers
        on identifiers.identifier = 'phone:' || latest.phone_e164

)

select * from final
