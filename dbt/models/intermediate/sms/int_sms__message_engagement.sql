with messages as (

    select message_key, is_sent, delivery_status
    from {{ ref('int_sms__messages') }}

),

clicks as (

    select
        message_key,
        count(*) as clicks,
        min(clicked_at) as first_click_at
    from {{ ref('fct_sms_clicks') }}
    where message_key is not null
    group by 1

),

replies as (

    select
        message_key,
        count(*) as replies,
        min(replied_at) as first_reply_at,
        min(case when is_opt_out then replied_at end) as opted_out_at
    from {{ ref('fct_sms_replies') }}
    where message_key is not null
    group by 1

),

final as (

    select
        messages.message_key,
        -- a click or a reply proves the message arrived even when its receipt is missing
        -- (receipts get lost) or says otherwise; only a sent message can arrive
        messages.is_sent and (
            coalesce(messages.delivery_status = 'delivered', false)
            or clicks.message_key is not null
            or replies.message_key is not null
        ) as is_delivered,
        messages.is_sent
            and coalesce(messages.delivery_status in ('undelivered', 'failed'), false)
            and clicks.message_key is null
            and replies.message_key is null as is_undelivered,
        coalesce(clicks.clicks, 0) as clicks,
        clicks.first_click_at,
        coalesce(replies.replies, 0) as replies,
        replies.first_reply_at,
        replies.opted_out_at is not null as opted_out,
        replies.opted_out_at
    from messages
    left join clicks on clicks.message_key = messages.message_key
    left join replies on replies.message_key = messages.message_key

)

select * from final
