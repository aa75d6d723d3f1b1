with orders as (

    select
        order_key,
        customer_id,
        ordered_at,
        channel,
        revenue_amount,
        upper(trim(discount_code)) as discount_code
    from {{ ref('fct_orders') }}
    where is_purchase and customer_id is not null

),

messages as (

    select * from {{ ref('int_sms__messages') }}
    where attribution_anchor_at is not null

),

reached as (

    -- treated messages that (as far as we know) reached the phone
    select
        *,
        coalesce(delivered_at, sent_at) as reached_at
    from messages
    where arm = 'treatment'
        and coalesce(delivery_status, 'none') not in ('undelivered', 'failed')

),

touches as (

    select
        message_key, customer_id, campaign_id, variant, arm,
        'delivery' as touch_type, 2 as touch_priority, reached_at as touch_at,
        {{ dbt.dateadd('day', var('attribution_days_after_delivery'), 'reached_at') }} as window_ends_at
    from reached

    union all

    select
        messages.message_key, messages.customer_id, messages.campaign_id, messages.variant, messages.arm,
        'click', 1, clicks.clicked_at,
        {{ dbt.dateadd('day', var('attribution_days_after_click'), 'clicks.clicked_at') }}
    from {{ ref('fct_sms_clicks') }} as clicks
    inner join messages on messages.message_key = clicks.message_key
    where messages.arm = 'treatment'

    union all

    select
        message_key, customer_id, campaign_id, variant, arm,
        'holdout', 3, attribution_anchor_at,
        {{ dbt.dateadd('day', var('attribution_days_after_delivery'), 'attribution_anchor_at') }}
    from messages
    where arm = 'holdout'

),

in_window as (

    select
        orders.order_key,
        touches.message_key,
        touches.campaign_id,
        touches.variant,
        touches.arm,
        touches.touch_type,
        touches.touch_priority,
        touches.touch_at,
        count(*) over (partition by orders.order_key) as touches_in_window
    from orders
    inner join touches
        on touches.customer_id = orders.customer_id
        and orders.ordered_at > touches.touch_at
        and orders.ordered_at <= touches.window_ends_at

),

last_touch as (

    select * from in_window
    qualify row_number() over (
        partition by order_key
        order by touch_at desc, touch_priority, message_key desc
    ) = 1

),

code_touch as (

    -- the latest message of the campaign whose code the order used
    select
        orders.order_key,
        reached.message_key,
        reached.campaign_id,
        reached.variant,
        reached.arm,
        'discount_code' as touch_type,
        reached.reached_at as touch_at
    from orders
    inner join {{ ref('campaign_discount_codes') }} as codes
        on upper(trim(codes.discount_code)) = orders.discount_code
    inner join reached
        on reached.customer_id = orders.customer_id
        and reached.campaign_id = codes.campaign_id
        and orders.ordered_at > reached.reached_at
        and orders.ordered_at
            <= {{ dbt.dateadd('day', var('attribution_discount_code_days'), 'reached.reached_at') }}
    qualify row_number() over (
        partition by orders.order_key
        order by reached.reached_at desc, reached.message_key desc
    ) = 1

),

credited as (

    select
        orders.order_key,
        coalesce(code_touch.message_key, last_touch.message_key) as message_key,
        coalesce(code_touch.campaign_id, last_touch.campaign_id) as campaign_id,
        coalesce(code_touch.variant, last_touch.variant) as variant,
        coalesce(code_touch.arm, last_touch.arm) as arm,
        coalesce(code_touch.touch_type, last_touch.touch_type) as touch_type,
        coalesce(code_touch.touch_at, last_touch.touch_at) as touch_at,
        last_touch.message_key as last_touch_message_key,
        coalesce(last_touch.touches_in_window, 0) as touches_in_window
    from orders
    left join last_touch on last_touch.order_key = orders.order_key
    left join code_touch on code_touch.order_key = orders.order_key
    where last_touch.order_key is not null or code_touch.order_key is not null

),

final as (

    select
        credited.order_key,
        orders.customer_id,
        orders.ordered_at,
        orders.channel,
        orders.revenue_amount,
        credited.message_key,
        credited.campaign_id,
        credited.variant,
        credited.arm,
        credited.touch_type,
        credited.touch_at,
        {{ minutes_between('credited.touch_at', 'orders.ordered_at') }} as minutes_after_touch,
        orders.discount_code,
        credited.last_touch_message_key,
        credited.touches_in_window
    from credited
    inner join orders on orders.order_key = credited.order_key

)

select * from final
