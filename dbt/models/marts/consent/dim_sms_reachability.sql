-- A view, not a table: read when used, so an opt-out, a bounce or a block loaded after the
-- last dbt build counts at the next plan, compliance gate and dispatch (dim_sms_consent and
-- dim_sms_suppression are views for the same reason). The one definition of "may this phone
-- receive an SMS now"; the rule, its order and its reasons are in the .yml.
{{ config(materialized=live_view_materialization()) }}

with phone_cache as (

    -- one phone may have been typed many ways (one cache row per raw key): valid only if
    -- every parse agreed
    select
        e164 as phone_e164,
        min(case when is_valid then 1 else 0 end) = 1 as phone_is_valid,
        min(number_type) as number_type
    from {{ source('ingest', 'phone_cache') }}
    where e164 is not null
    group by 1

),

consent as (

    select
        phone_e164,
        consent_state,
        opt_in_event_id,
        opt_in_source,
        opted_in_at,
        opt_in_text_version,
        is_shared_hub_phone
    from {{ ref('dim_sms_consent') }}

),

suppression_reasons as (

    select distinct phone_e164, suppression_reason
    from {{ ref('dim_sms_suppression') }}
    where phone_e164 is not null

),

suppressed as (

    select
        phone_e164,
        {{ ordered_string_agg('suppression_reason', "', '", 'suppression_reason') }}
            as suppression_reasons
    from suppression_reasons
    group by 1

),

phones as (

    select phone_e164 from phone_cache
    union
    select phone_e164 from consent
    union
    select phone_e164 from suppressed

),

facts as (

    select
        phones.phone_e164,
        coalesce(phone_cache.phone_is_valid, false) as phone_is_valid,
        case when phone_cache.phone_is_valid then phone_cache.number_type end as phone_type,
        coalesce(
            phone_cache.phone_is_valid
            and {{ list_has(sms_phone_types_list(), 'phone_cache.number_type') }},
            false
        ) as is_sms_capable,
        coalesce(consent.consent_state, 'none') as consent_state,
        -- the evidence a send carries exists only while the phone is opted in
        case when consent.consent_state = 'opted_in' then consent.opt_in_event_id end
            as opt_in_event_id,
        case when consent.consent_state = 'opted_in' then consent.opt_in_source end
            as opt_in_source,
        case when consent.consent_state = 'opted_in' then consent.opted_in_at end
            as opted_in_at,
        case when consent.consent_state = 'opted_in' then consent.opt_in_text_version end
            as opt_in_text_version,
        coalesce(
            consent.consent_state = 'opted_in'
            and consent.opt_in_event_id is not null
            and consent.opt_in_source is not null
            and consent.opt_in_text_version is not null,
            false
        ) as has_complete_opt_in_record,
        coalesce(consent.is_shared_hub_phone, false) as is_shared_hub_phone,
        suppressed.suppression_reasons
    from phones
    left join phone_cache on phone_cache.phone_e164 = phones.phone_e164
    left join consent on consent.phone_e164 = phones.phone_e164
    left join suppressed on suppressed.phone_e164 = phones.phone_e164

),

verdicts as (

    select
        *,
        case
            when not is_sms_capable then 'valid_mobile'
            when consent_state <> 'opted_in'
                or not has_complete_opt_in_record
                or is_shared_hub_phone then 'opt_in'
            when suppression_reasons is not null then 'not_suppressed'
        end as marketing_blocked_step,
        case
            when not is_sms_capable then 'no valid mobile number'
            when consent_state = 'opted_out' then 'opted out'
            when consent_state <> 'opted_in' then 'no opt-in on record'
            when not has_complete_opt_in_record
                then 'opt-in record incomplete (source or text version missing)'
            when is_shared_hub_phone
                then 'opt-in on a shared hub phone (not one person''s consent)'
            when suppression_reasons is not null then 'suppressed: ' || suppression_reasons
        end as marketing_blocked_reason,
        -- no opt-in needed, but a STOP still blocks (it is also an opt_out suppression;
        -- read from consent too so the two views can never disagree on it)
        case
            when not is_sms_capable then 'valid_mobile'
            when suppression_reasons is not null or consent_state = 'opted_out'
                then 'not_suppressed'
        end as transactional_blocked_step,
        case
            when not is_sms_capable then 'no valid mobile number'
            when suppression_reasons is not null or consent_state = 'opted_out'
                then 'suppressed: ' || coalesce(suppression_reasons, 'opt_out')
        end as transactional_blocked_reason
    from facts

),

final as (

    select
        phone_e164,
        phone_is_valid,
        phone_type,
        consent_state,
        opt_in_event_id,
        opt_in_source,
        opted_in_at,
        opt_in_text_version,
        has_complete_opt_in_record,
        is_shared_hub_phone,
        suppression_reasons,
        marketing_blocked_step is null as may_receive_marketing,
        marketing_blocked_step,
        marketing_blocked_reason,
        transactional_blocked_step is null as may_receive_transactional,
        transactional_blocked_step,
        transactional_blocked_reason
    from verdicts

)

select * from final
