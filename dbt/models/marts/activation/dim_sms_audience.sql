-- Who may receive a marketing SMS today: one row per customer, with the phone to text
-- and the opt-in record every send must carry. Campaign plans start from the same rule
-- and narrow it by segment, filters, caps, holdout and send window; nobody outside it is
-- ever sent marketing. The rule itself (valid mobile, complete opt-in, not a hub phone,
-- not suppressed) is dim_sms_reachability's may_receive_marketing, read here as the
-- planner, the dispatch and the compliance gate read it.
with customers as (

    -- the phone the planner texts: the opted-in one, else the customer's phone
    select
        customer_id,
        coalesce(sms_opted_in_phone_e164, phone_e164) as phone_e164,
        first_name,
        language,
        country,
        time_zone,
        time_zone_is_estimate,
        age_band,
        lifecycle_stage,
        has_open_ticket,
        as_of_date
    from {{ ref('dim_customers') }}

),

reachable as (

    select
        phone_e164,
        phone_type,
        opt_in_event_id,
        opt_in_source,
        opted_in_at,
        opt_in_text_version
    from {{ ref('dim_sms_reachability') }}
    where may_receive_marketing

),

segments as (

    select customer_id, {{ ordered_list('segment', 'segment') }} as segments
    from {{ ref('dim_customer_segments') }}
    group by 1

),

final as (

    select
        customers.customer_id,
        customers.phone_e164,
        reachable.phone_type,
        reachable.opt_in_event_id,
        reachable.opt_in_source,
        reachable.opted_in_at,
        reachable.opt_in_text_version,
        customers.first_name,
        customers.language,
        customers.country,
        customers.time_zone,
        customers.time_zone_is_estimate,
        customers.age_band,
        customers.lifecycle_stage,
        customers.has_open_ticket,
        coalesce(segments.segments, {{ string_list_literal([]) }}) as segments,
        customers.as_of_date
    from customers
    inner join reachable on reachable.phone_e164 = customers.phone_e164
    left join segments on segments.customer_id = customers.customer_id
    -- Identity resolution links records sharing a phone into one customer, so a phone
    -- has one customer; should two ever share it, the lowest id keeps it (one text per
    -- handset) and the gate's uniqueness expectation would say so.
    qualify row_number() over (partition by customers.phone_e164 order by customers.customer_id) = 1

)

select * from final
