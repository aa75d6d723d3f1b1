-- The customer 360: one row per resolved customer (buyers and prospects), as of var as_of.
with customers as (

    select * from {{ ref('int_identity__customers') }}

),

profile as (

    select * from {{ ref('int_customers__profile') }}

),

summary as (

    select * from {{ ref('int_customers__order_summary') }}

),

customer_phones as (

    select customer_id, identifier_value as phone_e164
    from {{ ref('int_identity__identifiers') }}
    where identifier_type = 'phone' and customer_id is not null

),

consent as (

    -- a customer may hold several phones: opted in if any of them is (that is the one to
    -- text), else opted out if any is, else none
    select
        customer_phones.customer_id,
        case
            when bool_or(dim_sms_consent.consent_state = 'opted_in') then 'opted_in'
            when bool_or(dim_sms_consent.consent_state = 'opted_out') then 'opted_out'
            else 'none'
        end as sms_consent_state,
        max(case when dim_sms_consent.consent_state = 'opted_in' then dim_sms_consent.phone_e164 end)
            as sms_opted_in_phone_e164,
        max(case when dim_sms_consent.consent_state = 'opted_in' then dim_sms_consent.opted_in_at end)
            as sms_opted_in_at
    from customer_phones
    inner join {{ ref('dim_sms_consent') }} as dim_sms_consent
        on dim_sms_consent.phone_e164 = customer_phones.phone_e164
    group by 1

),

final as (

    select
        customers.customer_id,
        {{ as_of_date() }} as as_of_date,
        customers.anchor_identifier_type,
        customers.first_seen_on,
        profile.first_name,
        profile.last_name,
        profile.email,
        profile.phone_e164,
        profile.crm_contact_id,
        profile.shop_customer_id,
        profile.loyalty_id,
        customers.crm_contact_count,
        customers.shop_account_count,
        customers.loyalty_card_count,
        customers.phone_count,
        customers.email_count,
        profile.language,
        profile.language_source,
        profile.country,
        profile.country_source,
        profile.time_zone,
        profile.time_zone_source,
        coalesce(profile.time_zone_is_estimate, false) as time_zone_is_estimate,
        profile.crm_country,
        profile.crm_state_region,
        profile.crm_time_zone,
        profile.home_store_country,
        profile.home_store_time_zone,
        case
            when profile.birth_date is null then 'unknown'
            when {{ dbt.datediff('profile.birth_date', as_of_date(), 'day') }} < 18 * 365.25 then 'under_18'
            when {{ dbt.datediff('profile.birth_date', as_of_date(), 'day') }} < 25 * 365.25 then '18-24'
            when {{ dbt.datediff('profile.birth_date', as_of_date(), 'day') }} < 35 * 365.25 then '25-34'
            when {{ dbt.datediff('profile.birth_date', as_of_date(), 'day') }} < 45 * 365.25 then '35-44'
            when {{ dbt.datediff('profile.birth_date', as_of_date(), 'day') }} < 55 * 365.25 then '45-54'
            when {{ dbt.datediff('profile.birth_date', as_of_date(), 'day') }} < 65 * 365.25 then '55-64'
            else '65+'
        end as age_band,
        profile.gender,
        profile.lead_status,
        summary.first_purchase_at,
        summary.last_purchase_at,
        summary.orders_count,
        summary.in_store_orders_count,
        summary.online_orders_count,
        summary.revenue_amount,
        summary.average_order_value,
        summary.preferred_category,
        summary.channel_mix,
        lifecycle.lifecycle_stage,
        rfm.rfm_segment,
        value.value_tier,
        value.is_big_spender,
        value.is_vip,
        tickets.customer_id is not null as has_open_ticket,
        coalesce(tickets.open_ticket_count, 0) as open_ticket_count,
        coalesce(consent.sms_consent_state, 'none') as sms_consent_state,
        consent.sms_opted_in_phone_e164,
        consent.sms_opted_in_at
    from customers
    left join profile on profile.customer_id = customers.customer_id
    left join summary on summary.customer_id = customers.customer_id
    left join {{ ref('dim_customer_lifecycle') }} as lifecycle
        on lifecycle.customer_id = customers.customer_id
    left join {{ ref('dim_customer_rfm') }} as rfm on rfm.customer_id = customers.customer_id
    left join {{ ref('int_customers__value') }} as value on value.customer_id = customers.customer_id
    left join {{ ref('int_customers__open_tickets') }} as tickets
        on tickets.customer_id = customers.customer_id
    left join consent on consent.customer_id = customers.customer_id

)

select * from final
