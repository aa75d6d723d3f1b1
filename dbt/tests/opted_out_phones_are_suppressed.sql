-- Every phone whose latest consent event is an opt-out is in sms_suppression, and no
-- customer is shown as texting-ready on a phone that is opted out.
select sms_consent.phone_e164, 'missing from suppression' as problem
from {{ ref('sms_consent') }} as sms_consent
left join {{ ref('sms_suppression') }} as suppression
    on suppression.phone_e164 = sms_consent.phone_e164
    and suppression.suppression_reason = 'opt_out'
where sms_consent.consent_state = 'opted_out' and suppression.phone_e164 is null
union all
select customers.sms_opted_in_phone_e164, 'opted-out phone shown as opted in'
from {{ ref('dim_customers') }} as customers
inner join {{ ref('sms_consent') }} as sms_consent
    on sms_consent.phone_e164 = customers.sms_opted_in_phone_e164
where sms_consent.consent_state <> 'opted_in'
