{{
    config(
        materialized=incremental_materialization(),
        unique_key='identifier_set_key',
        incremental_strategy='delete+insert',
        on_schema_change='fail'
    )
}}

{%- set identifier_columns = ['crm_identifier', 'shop_identifier', 'loyalty_identifier',
    'email_identifier_1', 'email_identifier_2', 'phone_identifier_1', 'phone_identifier_2'] %}
with pos as (

    select
        'pos' as source_kind,
        cast(null as {{ dbt.type_string() }}) as crm_identifier,
        cast(null as {{ dbt.type_string() }}) as shop_identifier,
        'loyalty:' || loyalty_id as loyalty_identifier,
        cast(null as {{ dbt.type_string() }}) as email_identifier_1,
        cast(null as {{ dbt.type_string() }}) as email_identifier_2,
        'phone:' || customer_phone_e164 as phone_identifier_1,
        cast(null as {{ dbt.type_string() }}) as phone_identifier_2,
        min(delivered_on) as first_seen_on,
        max(delivered_on) as last_seen_on,
        max(_loaded_at) as _loaded_at
    from {{ ref('base_pos__transactions') }}
    where (loyalty_id is not null or customer_phone_e164 is not null)
        and {{ loaded_since_last_run(stored_filter="source_kind = 'pos'") }}
    group by loyalty_id, customer_phone_e164

),

crm as (

    select
        'crm' as source_kind,
        'crm:' || contact_id,
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_string() }}),
        'email:' || email,
        cast(null as {{ dbt.type_string() }}),
        'phone:' || phone_e164,
        cast(null as {{ dbt.type_string() }}),
        min(delivered_on),
        max(delivered_on),
        max(_loaded_at)
    from {{ ref('base_crm__contacts') }}
    where contact_id is not null
        and {{ loaded_since_last_run(stored_filter="source_kind = 'crm'") }}
    group by contact_id, email, phone_e164

),

shop_orders as (

    select
        'shop_order' as source_kind,
        cast(null as {{ dbt.type_string() }}),
        'shop:' || shop_customer_id,
        cast(null as {{ dbt.type_string() }}),
        'email:' || customer_email,
        'email:' || email,
        'phone:' || customer_phone_e164,
        'phone:' || phone_e164,
        min(delivered_on),
        max(delivered_on),
        max(_loaded_at)
    from {{ ref('base_shop__orders') }}
    where {{ loaded_since_last_run(stored_filter="source_kind = 'shop_order'") }}
    group by shop_customer_id, customer_email, email, customer_phone_e164, phone_e164

),

shop_checkouts as (

    select
        'checkout' as source_kind,
        cast(null as {{ dbt.type_string() }}),
        'shop:' || shop_customer_id,
        cast(null as {{ dbt.type_string() }}),
        'email:' || customer_email,
        'email:' || email,
        'phone:' || phone_e164,
        cast(null as {{ dbt.type_string() }}),
        min(delivered_on),
        max(delivered_on),
        max(_loaded_at)
    from {{ ref('base_shop__checkouts') }}
    where {{ loaded_since_last_run(stored_filter="source_kind = 'checkout'") }}
    group by shop_customer_id, customer_email, email, phone_e164

),

consent_events as (

    select
        'consent' as source_kind,
        'crm:' || contact_id,
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_string() }}),
        'phone:' || phone_e164,
        cast(null as {{ dbt.type_string() }}),
        min(delivered_on),
        max(delivered_on),
        max(_loaded_at)
    from {{ ref('stg_crm__consent_events') }}
    where phone_e164 is not null
        and {{ loaded_since_last_run(stored_filter="source_kind = 'consent'") }}
    group by contact_id, phone_e164

),

unioned as (

    select * from pos
    union all
    select * from crm
    union all
    select * from shop_orders
    union all
    select * from shop_checkouts
    union all
    select * from consent_events

),

keyed as (

    select
        md5(concat_ws('|', source_kind
            {%- for column in identifier_columns %}, coalesce({{ column }}, ''){% endfor -%}
        )) as identifier_set_key,
        *
    from unioned

),

{% if is_incremental() %}
merged as (

    -- a set seen again keeps its first day and takes the newer last day and load time
    select
        keyed.identifier_set_key,
        keyed.source_kind,
        {% for column in identifier_columns -%}
        keyed.{{ column }},
        {% endfor -%}
        least(keyed.first_seen_on, stored.first_seen_on) as first_seen_on,
        greatest(keyed.last_seen_on, stored.last_seen_on) as last_seen_on,
        greatest(keyed._loaded_at, stored._loaded_at) as _loaded_at
    from keyed
    left join {{ this }} as stored
        on stored.identifier_set_key = keyed.identifier_set_key

),
{% else %}
merged as (

    select * from keyed

),
{% endif %}

final as (

    select * from merged

)

select * from final
