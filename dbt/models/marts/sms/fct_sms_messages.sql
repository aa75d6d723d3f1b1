with messages as (

    select * from {{ ref('int_sms__messages') }}

),

segments as (

    select
        message_key,
        {{ ordered_list('segment', 'segment') }} as segments,
        count(*) as segment_count
    from {{ ref('int_sms__message_segments') }}
    group by 1

),

engagement as (

    select * from {{ ref('int_sms__message_engagement') }}

),

purchases as (

    select customer_id, ordered_at, revenue_amount
    from {{ ref('fct_orders') }}
    where is_purchase and customer_id is not null

),

window_purchases as (

    select
        messages.message_key,
        count(*) as purchases_in_window,
        sum(purchases.revenue_amount) as revenue_in_window
    from messages
    inner join purchases
        on purchases.customer_id = messages.customer_id
        and purchases.ordered_at > messages.attribution_anchor_at
        and purchases.ordered_at
            <= {{ dbt.dateadd('day', var('attribution_days_after_delivery'), 'messages.attribution_anchor_at') }}
    group by 1

),

attributed as (

    select
        message_key,
        count(*) as attributed_orders,
        sum(revenue_amount) as attributed_revenue
    from {{ ref('fct_sms_conversions') }}
    group by 1

),

final as (

    select
        messages.message_key,
        messages.campaign_id,
        messages.variant,
        messages.plan_day,
        messages.customer_id,
        messages.phone_e164,
        messages.arm,
        messages.ledger_state,
        messages.kind,
        messages.country,
        messages.language,
        messages.encoding,
        messages.sms_segments,
        messages.cost_usd,
        messages.scheduled_at,
        messages.is_sent,
        messages.sent_at,
        messages.accepted_at,
        messages.is_send_failed,
        messages.error_code,
        messages.outcome,
        messages.delivery_status,
        messages.delivery_status_at,
        messages.delivery_error_code,
        messages.queued_at,
        messages.carrier_sent_at,
        messages.delivered_at,
        messages.undelivered_at,
        messages.failed_at,
        messages.status_event_count,
        engagement.is_delivered,
        engagement.is_undelivered,
        coalesce(segments.segments, {{ string_list_literal([]) }}) as customer_segments,
        coalesce(segments.segment_count, 0) as customer_segment_count,
        engagement.clicks,
        engagement.first_click_at,
        engagement.replies,
        engagement.first_reply_at,
        engagement.opted_out,
        engagement.opted_out_at,
        messages.attribution_anchor_at,
        window_purchases.message_key is not null as has_purchase_in_window,
        coalesce(window_purchases.purchases_in_window, 0) as purchases_in_window,
        cast(coalesce(window_purchases.revenue_in_window, 0) as decimal(18, 2)) as revenue_in_window,
        coalesce(attributed.attributed_orders, 0) as attributed_orders,
        cast(coalesce(attributed.attributed_revenue, 0) as decimal(18, 2)) as attributed_revenue
    from messages
    left join segments on segments.message_key = messages.message_key
    inner join engagement on engagement.message_key = messages.message_key
    left join window_purchases on window_purchases.message_key = messages.message_key
    left join attributed on attributed.message_key = messages.message_key

)

select * from final
