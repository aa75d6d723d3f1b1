-- The ledger's customer id is the right one here: the id the history held on the plan
-- day, even if the customer was merged since.
with messages as (

    select message_key, planned_customer_id, plan_day
    from {{ ref('int_sms__messages') }}

),

history as (

    select customer_id, segment, entered_on, left_on
    from {{ ref('fct_customer_segment_history') }}

),

final as (

    -- category_affinity can hold several categories: one row per segment name
    select distinct
        messages.message_key,
        history.segment
    from messages
    inner join history
        on history.customer_id = messages.planned_customer_id
        and history.entered_on <= messages.plan_day
        and (history.left_on is null or history.left_on > messages.plan_day)

)

select * from final
