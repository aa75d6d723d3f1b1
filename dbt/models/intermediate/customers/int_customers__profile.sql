{{ customer_incremental_config(
    delete_stale="delete from {{ this }} where customer_id not in (select customer_id from {{ ref('int_identity__customers') }})"
) }}

with

{{ rebuilt_customers([ref('int_identity__identifiers')]) }}

identifiers as (

    select * from {{ ref('int_identity__identifiers') }}
    where customer_id is not null
    {% if is_incremental() -%}
        and customer_id in (select customer_id from rebuilt_customers)
    {%- endif %}

),

contacts as (

    {% if is_incremental() -%}
    -- the current version of the contacts rebuilt here, as stg_crm__contacts picks it (a
    -- filter on that view would not reach below its window)
    select * from {{ ref('base_crm__contacts') }}
    where contact_id in (select identifier_value from identifiers where identifier_type = 'crm')
    qualify row_number() over (
        partition by contact_id order by {{ crm_contact_current_version_order() }}
    ) = 1
    {%- else -%}
    select * from {{ ref('stg_crm__contacts') }}
    {%- endif %}

),

crm as (

    select
        identifiers.customer_id,
        contacts.*
    from contacts
    inner join identifiers on identifiers.identifier = 'crm:' || contacts.contact_id
    qualify row_number() over (
        partition by identifiers.customer_id
        order by contacts.last_modified_at desc, contacts.contact_id
    ) = 1

),

shop as (

    -- names and shipping country from each shop account's most recent order version
    select
        identifiers.customer_id,
        accounts.shop_customer_id,
        accounts.latest.customer_first_name as customer_first_name,
        accounts.latest.customer_last_name as customer_last_name,
        accounts.latest.shipping_country as shipping_country
    from (
        select
            shop_customer_id,
            {{ value_at_max(
                named_row(['customer_first_name', 'customer_last_name', 'shipping_country']),
                'updated_at'
            ) }} as latest,
            max(updated_at) as updated_at
        from {{ ref('base_shop__orders') }}
        where shop_customer_id is not null and not is_updated_future_dated
        {% if is_incremental() -%}
            and shop_customer_id in (
                select identifier_value from identifiers where identifier_type = 'shop'
            )
        {% endif -%}
        group by 1
    ) as accounts
    inner join identifiers on identifiers.identifier = 'shop:' || accounts.shop_customer_id
    qualify row_number() over (
        partition by identifiers.customer_id
        order by accounts.updated_at desc, accounts.shop_customer_id desc
    ) = 1

),

checkout_countries as (

    -- shop accounts that only ever checked out (prospects with a cart)
    select identifiers.customer_id, max(checkouts.shipping_country) as shipping_country
    from {{ ref('base_shop__checkouts') }} as checkouts
    inner join identifiers on identifiers.identifier = 'shop:' || checkouts.shop_customer_id
    where checkouts.shipping_country is not null
    {% if is_incremental() -%}
        and checkouts.shop_customer_id in (
            select identifier_value from identifiers where identifier_type = 'shop'
        )
    {% endif -%}
    group by 1

),

latest_identifiers as (

    select
        customer_id,
        identifier_type,
        identifier_value
    from identifiers
    where identifier_type in ('phone', 'email', 'loyalty', 'shop')
    qualify row_number() over (
        partition by customer_id, identifier_type
        order by last_seen_on desc, identifier_set_count desc, identifier_value
    ) = 1

),

store_visits as (

    select
        orders.customer_id,
        stores.country as store_country,
        stores.time_zone as store_time_zone,
        count(*) as visits,
        max(orders.ordered_at) as last_visit_at
    from {{ ref('fct_orders') }} as orders
    inner join {{ ref('stg_pos__stores') }} as stores on stores.location_id = orders.location_id
    where orders.customer_id is not null
        and orders.source_system = 'pos'
    {% if is_incremental() -%}
        and orders.customer_id in (select customer_id from rebuilt_customers)
    {% endif -%}
    group by 1, 2, 3

),

home_stores as (

    select customer_id, store_country, store_time_zone
    from (
        select
            *,
            row_number() over (
                partition by customer_id order by visits desc, last_visit_at desc
            ) as store_rank
        from store_visits
    ) as ranked
    where store_rank = 1

),

picked as (

    select
        customers.customer_id,
        crm.contact_id as crm_contact_id,
        coalesce(crm.first_name, shop.customer_first_name) as first_name,
        coalesce(crm.last_name, shop.customer_last_name) as last_name,
        coalesce(crm.email, emails.identifier_value) as email,
        case
            when crm.phone_e164 is not null
                and crm.phone_e164 in (
                    select identifier_value from identifiers where identifier_type = 'phone'
                )
                then crm.phone_e164
            else phones.identifier_value
        end as phone_e164,
        crm.birth_date,
        crm.gender,
        crm.language as crm_language,
        crm.country as crm_country,
        crm.state_region as crm_state_region,
        crm.stated_time_zone as crm_time_zone,
        crm.created_at as crm_created_at,
        crm.lead_status,
        coalesce(shop.shop_customer_id, shops.identifier_value) as shop_customer_id,
        coalesce(shop.shipping_country, checkout_countries.shipping_country) as shipping_country,
        loyalty.identifier_value as loyalty_id,
        home_stores.store_country,
        home_stores.store_time_zone
    from {{ ref('int_identity__customers') }} as customers
    left join crm on crm.customer_id = customers.customer_id
    left join shop on shop.customer_id = customers.customer_id
    left join checkout_countries on checkout_countries.customer_id = customers.customer_id
    left join latest_identifiers as emails
        on emails.customer_id = customers.customer_id and emails.identifier_type = 'email'
    left join latest_identifiers as phones
        on phones.customer_id = customers.customer_id and phones.identifier_type = 'phone'
    left join latest_identifiers as shops
        on shops.customer_id = customers.customer_id and shops.identifier_type = 'shop'
    left join latest_identifiers as loyalty
        on loyalty.customer_id = customers.customer_id and loyalty.identifier_type = 'loyalty'
    left join home_stores on home_stores.customer_id = customers.customer_id
    {% if is_incremental() -%}
    where customers.customer_id in (select customer_id from rebuilt_customers)
    {% endif %}
),

phone_regions as (

    -- the region libphonenumber gave a phone where a source recorded it, looked up only
    -- for the phones whose customer has no CRM country
    select phone_e164, max(phone_region) as phone_region
    from (
        select phone_e164, phone_region from {{ ref('base_crm__contacts') }}
        union all
        select phone_e164, phone_region from {{ ref('stg_crm__consent_events') }}
        union all
        select phone_e164, phone_region from {{ ref('base_shop__orders') }}
        union all
        select customer_phone_e164, customer_phone_region from {{ ref('base_shop__orders') }}
        union all
        select customer_phone_e164, customer_phone_region from {{ ref('base_pos__transactions') }}
    ) as regions
    where phone_e164 in (select phone_e164 from picked where crm_country is null)
    group by 1

),

located as (

    select
        picked.*,
        phone_regions.phone_region,
        coalesce(picked.crm_country, phone_regions.phone_region, picked.shipping_country,
            picked.store_country) as country,
        case
            when picked.crm_country is not null then 'crm'
            when phone_regions.phone_region is not null then 'phone_region'
            when picked.shipping_country is not null then 'shipping_address'
            when picked.store_country is not null then 'home_store'
        end as country_source
    from picked
    left join phone_regions on phone_regions.phone_e164 = picked.phone_e164

),

final as (

    select
        located.customer_id,
        located.crm_contact_id,
        located.shop_customer_id,
        located.loyalty_id,
        located.first_name,
        located.last_name,
        located.email,
        located.phone_e164,
        located.phone_region,
        located.birth_date,
        coalesce(located.gender, 'unknown') as gender,
        coalesce(located.crm_language, regions.default_language) as language,
        case
            when located.crm_language is not null then 'crm'
            when regions.default_language is not null then 'country_default'
        end as language_source,
        located.country,
        located.country_source,
        case
            when regions.zone_count = 1 then regions.default_time_zone
            when located.store_country = located.country then located.store_time_zone
            else regions.default_time_zone
        end as time_zone,
        case
            when regions.region is null then null
            when regions.zone_count = 1 then 'country'
            when located.store_country = located.country then 'home_store'
            else 'country_default'
        end as time_zone_source,
        regions.zone_count > 1 and coalesce(located.store_country <> located.country, true)
            as time_zone_is_estimate,
        -- what the profile states, for quiet hours (whereabouts.py): a zone is certain only
        -- when the CRM says so, else every zone the phone and the home store suggest
        located.crm_country,
        located.crm_state_region,
        located.crm_time_zone,
        located.store_country as home_store_country,
        located.store_time_zone as home_store_time_zone,
        located.crm_created_at,
        located.lead_status,
        current_timestamp::timestamp as _built_at
    from located
    left join {{ ref('stg_reference__region_defaults') }} as regions
        on regions.region = located.country

)

select * from final
