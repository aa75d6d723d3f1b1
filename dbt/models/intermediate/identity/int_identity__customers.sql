{{ customer_incremental_config(
    delete_stale="delete from {{ this }} where customer_id not in (select customer_id from {{ ref('int_identity__identifiers') }} where customer_id is not null)"
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

final as (

    select
        customer_id,
        min(anchor_identifier) as anchor_identifier,
        min(split_part(anchor_identifier, ':', 1)) as anchor_identifier_type,
        min(anchor_first_seen_on) as first_seen_on,
        max(last_seen_on) as last_seen_on,
        count(*) as identifier_count,
        count(*) filter (where identifier_type = 'crm') as crm_contact_count,
        count(*) filter (where identifier_type = 'shop') as shop_account_count,
        count(*) filter (where identifier_type = 'loyalty') as loyalty_card_count,
        count(*) filter (where identifier_type = 'phone') as phone_count,
        count(*) filter (where identifier_type = 'email') as email_count,
        current_timestamp::timestamp as _built_at
    from identifiers
    group by 1

)

select * from final
