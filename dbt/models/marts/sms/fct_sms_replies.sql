with replies as (

    select * from {{ ref('stg_sms__events') }}
    where event_type = 'inbound'

),

sent_messages as (

    select message_key, campaign_id, variant, arm, customer_id, phone_e164, sent_at
    from {{ ref('int_sms__messages') }}
    where is_sent
        and coalesce(delivery_status, 'none') not in ('undelivered', 'failed')
        and phone_e164 is not null

),

linked as (

    select
        replies.event_id,
        sent_messages.message_key,
        sent_messages.campaign_id,
        sent_messages.variant,
        sent_messages.arm,
        sent_messages.customer_id,
        sent_messages.sent_at
    from replies
    inner join sent_messages
        on sent_messages.phone_e164 = replies.phone_e164
        and sent_messages.sent_at <= replies.event_at
        and sent_messages.sent_at >= {{ dbt.dateadd('day', -1 * var('sms_reply_link_days'), 'replies.event_at') }}
    qualify row_number() over (
        partition by replies.event_id
        order by sent_messages.sent_at desc, sent_messages.message_key desc
    ) = 1

),

phone_owners as (

    select identifier, customer_id
    from {{ ref('int_identity__identifiers') }}
    where customer_id is not null

),

final as (

    select
        replies.event_id as reply_event_id,
        replies.phone_e164,
        replies.event_at as replied_at,
        replies.received_at,
        replies.event_source,
        replies.keyword,
        replies.action,
        replies.language,
        replies.text,
        replies.reply_text as answered_with,
        coalesce(replies.action = 'opt_out', false) as is_opt_out,
        coalesce(replies.action = 'opt_in', false) as is_opt_in,
        linked.message_key,
        linked.campaign_id,
        linked.variant,
        linked.arm,
        -- the texted customer when linked, else whoever holds the phone now
        coalesce(linked.customer_id, phone_owners.customer_id) as customer_id,
        linked.sent_at,
        {{ minutes_between('linked.sent_at', 'replies.event_at') }} as minutes_after_send
    from replies
    left join linked on linked.event_id = replies.event_id
    left join phone_owners on phone_owners.identifier = 'phone:' || replies.phone_e164

)

select * from final
