-- The journey event stream: one row per thing a customer did that can start, branch or end
-- a journey (an abandoned checkout, an order, a consent change, a reply, a click). The
-- journey engine reads only this table; the rules each part follows are in the yml.
-- A table, rebuilt whole (the yml says why it is not incremental).

with

phone_owners as (

    -- a phone's customer as every mart resolves it; a hub phone has none
    select identifier_value as phone_e164, customer_id
    from {{ ref('int_identity__identifiers') }}
    where identifier_type = 'phone' and customer_id is not null

),

-- checkouts ------------------------------------------------------------------------------

open_checkouts as (

    -- a checkout whose latest version is completed became an order (that order is the
    -- event); one with no plausible creation time is a data error, as in
    -- int_customers__abandoned_checkouts
    select * from {{ ref('stg_shop__checkouts') }}
    where not is_completed and not is_future_dated

),

identified_checkouts as (

    select
        checkouts.*,
        coalesce(id_1.customer_id, id_2.customer_id, id_3.customer_id, id_4.customer_id)
            as customer_id
    from open_checkouts as checkouts
    left join {{ ref('int_identity__identifiers') }} as id_1
        on id_1.identifier = 'shop:' || checkouts.shop_customer_id
    left join {{ ref('int_identity__identifiers') }} as id_2
        on id_2.identifier = 'email:' || checkouts.customer_email
    left join {{ ref('int_identity__identifiers') }} as id_3
        on id_3.identifier = 'email:' || checkouts.email
    left join {{ ref('int_identity__identifiers') }} as id_4
        on id_4.identifier = 'phone:' || checkouts.phone_e164

),

checkout_items as (

    select
        lines.checkout_id,
        {{ distinct_sorted_list('products.category') }} as categories,
        {{ distinct_sorted_list('lines.sku') }} as skus
    from {{ ref('stg_shop__checkout_lines') }} as lines
    left join {{ ref('stg_shop__products') }} as products on products.sku = lines.sku
    where lines.checkout_id in (select checkout_id from identified_checkouts)
    group by 1

),

checkout_events as (

    select
        'checkout:' || checkouts.checkout_id as event_id,
        checkouts.customer_id,
        'checkout_abandoned' as event_type,
        -- the last time the cart changed; an update stamped before its creation is a
        -- clock error, and the creation time is then the better guess
        case
            when checkouts.updated_at >= checkouts.created_at then checkouts.updated_at
            else checkouts.created_at
        end as event_at,
        cast(null as boolean) as is_first_order,
        items.categories,
        items.skus,
        checkouts.phone_e164,
        cast(null as {{ dbt.type_string() }}) as keyword,
        cast(null as {{ dbt.type_string() }}) as message_key,
        cast(checkouts.total_price as decimal(18, 2)) as amount
    from identified_checkouts as checkouts
    left join checkout_items as items on items.checkout_id = checkouts.checkout_id
    where checkouts.customer_id is not null

),

-- orders ---------------------------------------------------------------------------------

purchases as (

    -- a cancelled order is not a purchase (fct_orders.is_purchase): it neither counts as a
    -- first order nor ends a journey, so it is no event
    select order_key, customer_id, ordered_at, net_local
    from {{ ref('fct_orders') }}
    where customer_id is not null and is_purchase

),

order_items as (

    -- each order's distinct categories and SKUs, kept up to date incrementally (the lists
    -- of an order that is no purchase are there too; the join leaves them out)
    select order_key, categories, skus
    from {{ ref('int_orders__items') }}

),

order_events as (

    select
        'order:' || purchases.order_key as event_id,
        purchases.customer_id,
        'order' as event_type,
        purchases.ordered_at as event_at,
        -- ties on the same instant broken by the key, so exactly one order is first
        row_number() over (
            partition by purchases.customer_id
            order by purchases.ordered_at, purchases.order_key
        ) = 1 as is_first_order,
        items.categories,
        items.skus,
        cast(null as {{ dbt.type_string() }}) as phone_e164,
        cast(null as {{ dbt.type_string() }}) as keyword,
        cast(null as {{ dbt.type_string() }}) as message_key,
        purchases.net_local as amount
    from purchases
    left join order_items as items on items.order_key = purchases.order_key

),

-- consent --------------------------------------------------------------------------------

crm_consent as (

    -- the time an event took effect, as dim_sms_consent reads it: an opt-out stamped after
    -- its delivery day counts from the start of that day (a STOP is never ignored for a
    -- wrong clock); such an opt-in is no evidence of consent and is left out
    select
        event_id,
        phone_e164,
        event_type,
        case
            when not is_future_dated then occurred_at
            when event_type = 'opt_out' then cast(delivered_on as timestamp)
        end as event_at
    from {{ ref('stg_crm__consent_events') }}
    where phone_e164 is not null and event_type in ('opt_in', 'opt_out')

),

crm_consent_events as (

    select
        'consent:' || consent.event_id as event_id,
        owners.customer_id,
        consent.event_type,
        consent.event_at,
        cast(null as boolean) as is_first_order,
        cast(null as {{ type_string_list() }}) as categories,
        cast(null as {{ type_string_list() }}) as skus,
        consent.phone_e164,
        cast(null as {{ dbt.type_string() }}) as keyword,
        cast(null as {{ dbt.type_string() }}) as message_key,
        cast(null as decimal(18, 2)) as amount
    from crm_consent as consent
    inner join phone_owners as owners on owners.phone_e164 = consent.phone_e164
    where consent.event_at is not null

),

-- replies and clicks ---------------------------------------------------------------------

replies as (

    select
        reply_event_id,
        customer_id,
        replied_at,
        phone_e164,
        action,
        -- the receiver's classification names the keyword whatever language it was texted
        -- in (STOPP, ARRET, ...); a reply that is a keyword of no action keeps its word
        case action
            when 'opt_out' then 'STOP'
            when 'opt_in' then 'START'
            when 'help' then 'HELP'
            else keyword
        end as keyword,
        message_key
    from {{ ref('fct_sms_replies') }}
    where customer_id is not null

),

reply_events as (

    select
        'reply:' || reply_event_id as event_id,
        customer_id,
        'reply' as event_type,
        replied_at as event_at,
        cast(null as boolean) as is_first_order,
        cast(null as {{ type_string_list() }}) as categories,
        cast(null as {{ type_string_list() }}) as skus,
        phone_e164,
        keyword,
        message_key,
        cast(null as decimal(18, 2)) as amount
    from replies

),

reply_consent_events as (

    -- STOP and START texted to us change consent as the CRM's events do (dim_sms_consent
    -- source sms_reply), so they are consent events too, beside the reply itself
    select
        'consent:sms:' || reply_event_id as event_id,
        customer_id,
        action as event_type,
        replied_at as event_at,
        cast(null as boolean) as is_first_order,
        cast(null as {{ type_string_list() }}) as categories,
        cast(null as {{ type_string_list() }}) as skus,
        phone_e164,
        keyword,
        message_key,
        cast(null as decimal(18, 2)) as amount
    from replies
    where action in ('opt_in', 'opt_out')

),

click_events as (

    select
        'click:' || clicks.click_event_id as event_id,
        clicks.customer_id,
        'click' as event_type,
        clicks.clicked_at as event_at,
        cast(null as boolean) as is_first_order,
        cast(null as {{ type_string_list() }}) as categories,
        cast(null as {{ type_string_list() }}) as skus,
        messages.phone_e164,
        cast(null as {{ dbt.type_string() }}) as keyword,
        clicks.message_key,
        cast(null as decimal(18, 2)) as amount
    from {{ ref('fct_sms_clicks') }} as clicks
    left join {{ ref('int_sms__messages') }} as messages
        on messages.message_key = clicks.message_key
    -- a click on a link we cannot tie to a message names nobody
    where clicks.customer_id is not null

),

events as (

    select * from checkout_events
    union all
    select * from order_events
    union all
    select * from crm_consent_events
    union all
    select * from reply_events
    union all
    select * from reply_consent_events
    union all
    select * from click_events

),

final as (

    select
        cast(event_id as {{ dbt.type_string() }}) as event_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(event_type as {{ dbt.type_string() }}) as event_type,
        cast(event_at as timestamp) as event_at,
        is_first_order,
        categories,
        skus,
        phone_e164,
        keyword,
        message_key,
        cast(amount as decimal(18, 2)) as amount
    from events
    where event_at is not null

)

select * from final
