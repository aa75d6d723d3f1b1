-- A view, not a table: consent is read when it is used, so an opt-out loaded after the
-- last dbt build takes effect at the next plan, gate or dispatch without a rebuild.
{{ config(materialized=live_view_materialization()) }}

-- The latest SMS consent state of every valid E.164 phone that has consent events.
--
-- Consent belongs to the phone number, not to a person: whoever holds the number said
-- yes or STOP. Two feeds: the CRM's consent events, and keyword replies texted to us
-- (STOP, START, ... from raw.sms_events; source 'sms_reply'). Latest event wins, ordered
-- by the time it took effect; on a tie an opt-out wins. An event whose timestamp lies
-- after its own delivery day (a clock error):
--   * an opt-out takes effect at the start of the day it was delivered (a STOP is never
--     ignored because its clock is wrong);
--   * an opt-in is not evidence of consent (its time is unknown, and the opt-in's time is
--     what a send must be able to show), so it is ignored.
-- A reply opt-in (START, UNSTOP, YES) carries no wording of its own: it restores the
-- phone's latest earlier opt-in that had one (its text version), and from a phone that
-- never had such an opt-in it is an opt-in without a text version, which is not a
-- complete opt-in record (marketing needs the wording the person agreed to).
-- Consent is NOT bounded by var as_of: an opt-out must take effect before the next send,
-- whatever day the marts describe. Phones without any event are absent (no consent).
with crm_events as (

    select
        phone_e164,
        event_id,
        event_type,
        occurred_at,
        is_future_dated,
        delivered_on,
        consent_source,
        consent_text_version,
        keyword,
        contact_id
    from {{ ref('stg_crm__consent_events') }}
    where phone_e164 is not null

),

reply_events as (

    -- the receiver's time is our own clock (event_at is never after receipt), so a reply
    -- is never future-dated
    select
        phone_e164,
        event_id,
        action as event_type,
        event_at as occurred_at,
        false as is_future_dated,
        cast(received_at as date) as delivered_on,
        'sms_reply' as consent_source,
        cast(null as {{ dbt.type_string() }}) as consent_text_version,
        keyword,
        cast(null as {{ dbt.type_string() }}) as contact_id
    from {{ ref('stg_sms__events') }}
    where event_type = 'inbound'
        and action in ('opt_in', 'opt_out')
        and phone_e164 is not null

),

events as (

    select * from crm_events
    union all
    select * from reply_events

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

usable_events as (

    select * from effective
    where effective_at is not null and event_type in ('opt_in', 'opt_out')

),

reply_opt_in_evidence as (

    -- for each reply opt-in, the phone's latest earlier (or simultaneous) opt-in that has a
    -- text version: START restores what the person once agreed to, nothing more
    select
        replies.event_id,
        earlier.event_id as restored_from_event_id,
        earlier.consent_text_version
    from usable_events as replies
    inner join usable_events as earlier
        on earlier.phone_e164 = replies.phone_e164
        and earlier.event_type = 'opt_in'
        and earlier.consent_source <> 'sms_reply'
        and earlier.consent_text_version is not null
        and earlier.effective_at <= replies.effective_at
    where replies.consent_source = 'sms_reply' and replies.event_type = 'opt_in'
    qualify row_number() over (
        partition by replies.event_id
        order by earlier.effective_at desc, earlier.event_id desc
    ) = 1

),

usable as (

    select
        usable_events.phone_e164,
        usable_events.event_id,
        usable_events.event_type,
        usable_events.effective_at,
        usable_events.is_future_dated,
        usable_events.consent_source,
        coalesce(usable_events.consent_text_version, evidence.consent_text_version)
            as consent_text_version,
        evidence.restored_from_event_id,
        usable_events.keyword,
        usable_events.contact_id
    from usable_events
    left join reply_opt_in_evidence as evidence
        on evidence.event_id = usable_events.event_id
        and usable_events.consent_source = 'sms_reply'

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
        {{ count_distinct_over('contact_id', 'partition by phone_e164') }} as contact_count
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
        restored_from_event_id,
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
        latest_opt_in.restored_from_event_id as opt_in_restored_from_event_id,
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
