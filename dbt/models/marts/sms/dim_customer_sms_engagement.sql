-- No segment history among the ancestors, so a segment may one day read this table.
with messages as (

    select
        messages.*,
        engagement.is_delivered,
        engagement.clicks,
        engagement.opted_out
    from {{ ref('int_sms__messages') }} as messages
    inner join {{ ref('int_sms__message_engagement') }} as engagement
        on engagement.message_key = messages.message_key

),

per_customer as (

    select
        customer_id,
        count(case when arm = 'treatment' then 1 end) as messages_planned,
        count(case when arm = 'holdout' then 1 end) as messages_held_out,
        count(case when is_sent then 1 end) as messages_received,
        count(case when is_delivered then 1 end) as delivered,
        count(case when is_delivered and clicks > 0 then 1 end) as clicked_messages,
        count(case when opted_out then 1 end) as opt_outs,
        count(distinct campaign_id) as campaigns,
        min(sent_at) as first_sent_at,
        max(sent_at) as last_sent_at
    from messages
    group by 1

),

clicks as (

    select customer_id, count(*) as clicks, max(clicked_at) as last_click_at
    from {{ ref('fct_sms_clicks') }}
    where customer_id is not null
    group by 1

),

replies as (

    -- every inbound from the customer, linked to a message or not
    select customer_id, count(*) as replies, max(replied_at) as last_reply_at
    from {{ ref('fct_sms_replies') }}
    where customer_id is not null
    group by 1

),

attributed as (

    select
        customer_id,
        count(*) as attributed_orders,
        sum(revenue_amount) as attributed_revenue
    from {{ ref('fct_sms_conversions') }}
    where arm = 'treatment'
    group by 1

),

final as (

    select
        per_customer.customer_id,
        per_customer.messages_planned,
        per_customer.messages_held_out,
        per_customer.messages_received,
        per_customer.delivered,
        coalesce(clicks.clicks, 0) as clicks,
        per_customer.clicked_messages,
        coalesce(replies.replies, 0) as replies,
        per_customer.opt_outs,
        per_customer.campaigns,
        per_customer.first_sent_at,
        per_customer.last_sent_at,
        clicks.last_click_at,
        replies.last_reply_at,
        coalesce(attributed.attributed_orders, 0) as attributed_orders,
        cast(coalesce(attributed.attributed_revenue, 0) as decimal(18, 2)) as attributed_revenue,
        coalesce(customers.orders_count, 0) as lifetime_orders,
        cast(coalesce(customers.revenue_amount, 0) as decimal(18, 2)) as lifetime_revenue,
        customers.last_purchase_at,
        customers.as_of_date
    from per_customer
    left join clicks on clicks.customer_id = per_customer.customer_id
    left join replies on replies.customer_id = per_customer.customer_id
    left join attributed on attributed.customer_id = per_customer.customer_id
    left join {{ ref('dim_customers') }} as customers
        on customers.customer_id = per_customer.customer_id

)

select * from final
