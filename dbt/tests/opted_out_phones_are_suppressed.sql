-- Every phone whose latest consent event is an opt-out is in dim_sms_suppression, and no
-- customer is shown as texting-ready on a phone that is opted out.
select dim_sms_consent.phone_e164, 'missing from suppression' as problem
from {{ ref('dim_sms_consent') }} as dim_sms_consent
left join {{ ref('dim_sms_suppression') }} as suppression
    on suppression.phone_e164 = dim_sms_consent.phone_e164
    and suppression.suppression_reason = 'opt_out'
where dim_sms_consent.consent_state = 'opted_out' and suppression.phone_e164 is null
union all
select customers.sms_opted_in_phone_e164, 'opted-out phone shown as opted in'
from {{ ref('dim_customers') }} as customers
inner join {{ ref('dim_sms_consent') }} as dim_sms_consent
    on dim_sms_consent.phone_e164 = customers.sms_opted_in_phone_e164
where dim_sms_consent.consent_state <> 'opted_in'
