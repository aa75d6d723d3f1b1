-- A view over sms_consent (itself a view) and the seeds: always current, like consent.
{{ config(materialized='view') }}

-- Phones that must not receive marketing SMS, one row per phone and reason. Three feeds:
--   opt_out       the phone's latest consent event is an opt-out (sms_consent);
--   hard_bounce   the gateway reported the number as permanently undeliverable. No source
--                 exists yet: the branch is empty but typed, and is fed by the delivery
--                 outcomes issue (the send ledger's DLRs);
--   manual_block  the manual_blocks seed (operator blocks).
-- A phone may appear under several reasons; any row suppresses it.
with opt_outs as (

    select
        phone_e164,
        'opt_out' as suppression_reason,
        state_since as suppressed_at,
        latest_event_source as suppression_source,
        coalesce('keyword ' || opt_out_keyword, 'opt-out event ' || latest_event_id) as detail
    from {{ ref('sms_consent') }}
    where consent_state = 'opted_out'

),

hard_bounces as (

    select
        cast(null as {{ dbt.type_string() }}) as phone_e164,
        'hard_bounce' as suppression_reason,
        cast(null as timestamp) as suppressed_at,
        cast(null as {{ dbt.type_string() }}) as suppression_source,
        cast(null as {{ dbt.type_string() }}) as detail
    where 1 = 0

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
