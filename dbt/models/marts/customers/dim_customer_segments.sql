-- clicks_never_buys reads fct_sms_clicks, built on the ledger without segments: the SMS
-- facts that carry segments are downstream of this model, so there is no cycle.
with lifecycle as (

    select * from {{ ref('dim_customer_lifecycle') }}

),

summary as (

    select * from {{ ref('int_customers__order_summary') }}

),

value as (

    select * from {{ ref('int_customers__value') }}

),

lifecycle_segments as (

    select
        customer_id,
        case lifecycle_stage when 'new' then 'new_customer' else lifecycle_stage end as segment,
        cast(null as {{ dbt.type_string() }}) as segment_detail,
        stage_reason as reason
    from lifecycle
    where lifecycle_stage in ('prospect', 'new', 'lapsed', 'at_risk')

),

big_spenders as (

    select
        customer_id,
        'big_spender' as segment,
        cast(null as {{ dbt.type_string() }}) as segment_detail,
        'spent ' || cast(revenue_amount as {{ dbt.type_string() }}) || ' {{ var("reporting_currency") }}'
            || ' >= {{ var("big_spender_multiple") }} x the average customer''s '
            || cast(average_customer_revenue as {{ dbt.type_string() }}) as reason
    from value
    where is_big_spender

),

vips as (

    select
        customer_id,
        'vip' as segment,
        cast(null as {{ dbt.type_string() }}) as segment_detail,
        'top ' || cast(round(window_revenue_top_share * 100, 1) as {{ dbt.type_string() }})
            || '% by revenue over {{ var("vip_window_days") }} days ('
            || cast(revenue_in_vip_window as {{ dbt.type_string() }}) || ' {{ var("reporting_currency") }}, '
            || cast(orders_in_vip_window as {{ dbt.type_string() }}) || ' orders)' as reason
    from value
    where is_vip

),

abandoned as (

    select
        customer_id,
        'abandoned_checkout' as segment,
        cast(null as {{ dbt.type_string() }}) as segment_detail,
        'checkout ' || checkout_id || ' at ' || cast(created_at as {{ dbt.type_string() }})
            || ' UTC left with ' || cast(item_quantity as {{ dbt.type_string() }}) || ' item(s): '
            || skus as reason
    from {{ ref('int_customers__abandoned_checkouts') }}
    qualify row_number() over (partition by customer_id order by created_at desc, checkout_id) = 1

),

affinities as (

    select
        customer_id,
        'category_affinity' as segment,
        category as segment_detail,
        category || ': ' || cast(round(line_share * 100) as integer) || '% of purchased lines in '
            || cast(order_count as {{ dbt.type_string() }}) || ' orders' as reason
    from {{ ref('int_customers__category_stats') }}
    where line_share >= {{ var('category_affinity_min_share') }}
        and order_count >= {{ var('category_affinity_min_orders') }}

),

repeat_due as (

    select
        summary.customer_id,
        'repeat_purchase_due' as segment,
        cast(null as {{ dbt.type_string() }}) as segment_detail,
        'usually buys every ' || cast(round(summary.avg_days_between_purchases) as integer)
            || ' days; last purchase ' || cast(summary.days_since_last_purchase as {{ dbt.type_string() }})
            || ' days ago' as reason
    from summary
    inner join lifecycle on lifecycle.customer_id = summary.customer_id
    where summary.purchase_day_count >= {{ var('repeat_purchase_min_orders') }}
        and summary.days_since_last_purchase
            > {{ var('repeat_purchase_due_factor') }} * summary.avg_days_between_purchases
        -- past the lapse line it is a win-back, not a reminder
        and lifecycle.lifecycle_stage <> 'lapsed'

),

open_tickets as (

    select
        customer_id,
        'open_ticket_exclusion' as segment,
        cast(null as {{ dbt.type_string() }}) as segment_detail,
        cast(open_ticket_count as {{ dbt.type_string() }}) || ' open support ticket(s), oldest since '
            || cast(cast(oldest_open_ticket_at as date) as {{ dbt.type_string() }}) as reason
    from {{ ref('int_customers__open_tickets') }}

),

sms_clickers as (

    -- clicks of the var clicks_never_buys_days days up to the end of the as_of day in the
    -- business's zone (history as of then)
    select
        customer_id,
        count(*) as click_count,
        min(clicked_at) as first_click_at
    from {{ ref('fct_sms_clicks') }}
    where customer_id is not null
        and clicked_at < {{ as_of_end_timestamp() }}
        and clicked_at >= {{ dbt.dateadd('day', -1 * var('clicks_never_buys_days'), as_of_end_timestamp()) }}
    group by 1

),

clicks_never_buys as (

    -- interested enough to click, yet no purchase in any channel since the first of those
    -- clicks: a reminder or an offer may tip them, another generic blast will not
    select
        sms_clickers.customer_id,
        'clicks_never_buys' as segment,
        cast(null as {{ dbt.type_string() }}) as segment_detail,
        'clicked SMS links ' || cast(sms_clickers.click_count as {{ dbt.type_string() }})
            || ' time(s) in the last {{ var("clicks_never_buys_days") }} days (first '
            || cast(cast(sms_clickers.first_click_at as date) as {{ dbt.type_string() }})
            || '), no purchase since' as reason
    from sms_clickers
    -- known customers only: an id merged away since the click has no lifecycle row
    inner join lifecycle on lifecycle.customer_id = sms_clickers.customer_id
    left join summary on summary.customer_id = sms_clickers.customer_id
    where summary.last_purchase_at is null
        or summary.last_purchase_at < sms_clickers.first_click_at

),

unioned as (

    select * from lifecycle_segments
    union all select * from big_spenders
    union all select * from vips
    union all select * from abandoned
    union all select * from affinities
    union all select * from repeat_due
    union all select * from open_tickets
    union all select * from clicks_never_buys

),

final as (

    select
        customer_id || '|' || segment || coalesce('|' || segment_detail, '') as segment_membership_key,
        customer_id,
        segment,
        segment_detail,
        reason,
        {{ as_of_date() }} as as_of_date
    from unioned

)

select * from final
