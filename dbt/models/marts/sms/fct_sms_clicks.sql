-- One row per tracked-link click, with the message it came from. The receiver records
-- every click (no dedup: a second click is a second click); the message is the click's
-- message_key when the ledger knows it, else the one its token was registered for.
with clicks as (

    select * from {{ ref('stg_sms__events') }}
    where event_type = 'click'

),

links as (

    select token, message_key from {{ ref('stg_sms__links') }}

),

messages as (

    select * from {{ ref('int_sms__messages') }}

),

resolved as (

    select
        clicks.*,
        coalesce(by_key.message_key, by_token.message_key) as resolved_message_key
    from clicks
    left join messages as by_key on by_key.message_key = clicks.message_key
    left join links on links.token = clicks.token
    left join messages as by_token on by_token.message_key = links.message_key

),

final as (

    select
        resolved.event_id as click_event_id,
        resolved.resolved_message_key as message_key,
        messages.campaign_id,
        messages.variant,
        messages.arm,
        messages.plan_day,
        messages.customer_id,
        resolved.event_at as clicked_at,
        resolved.received_at,
        messages.sent_at,
        {{ minutes_between('messages.sent_at', 'resolved.event_at') }} as minutes_after_send,
        row_number() over (
            partition by resolved.resolved_message_key
            order by resolved.event_at, resolved.event_id
        ) as click_number,
        resolved.token,
        resolved.target_url,
        resolved.user_agent
    from resolved
    left join messages on messages.message_key = resolved.resolved_message_key

)

select * from final
