{{ config(materialized='table') }}

-- depends_on: {{ ref('stg_reference__fx_rates') }}
with recent_checkout_ids as (

    -- a checkout that is not future-dated was created at most var future_tolerance_days
    -- after the delivery day of each of its versions, so one created in the window has
    -- every version delivered since the window's first day minus that tolerance; picking
    -- those ids first keeps the staging view from re-picking every checkout's version
    select distinct checkout_id
    from {{ ref('base_shop__checkouts') }}
    where delivered_on >= {{ dbt.dateadd(
        'day', -var('future_tolerance_days'),
        'cast(' ~ dbt.dateadd('hour', -var('abandoned_checkout_hours'), as_of_end_timestamp()) ~ ' as date)'
    ) }}

),

recent_versions as (

    select * from {{ ref('base_shop__checkouts') }}
    where checkout_id in (select checkout_id from recent_checkout_ids)

),

-- staged as stg_shop__checkouts stages every checkout (same macro)
{{ shop_checkouts_staged('recent_versions', prefix='recent') }},

{{ shop_checkout_lines_staged('recent_latest', prefix='recent') }},

checkouts as (

    select * from recent_latest
    where not is_future_dated
        and created_at >= {{ dbt.dateadd('hour', -var('abandoned_checkout_hours'), as_of_end_timestamp()) }}
        and created_at < {{ as_of_end_timestamp() }}
        and (completed_at is null or completed_at >= {{ as_of_end_timestamp() }})

),

identified as (

    select
        checkouts.*,
        coalesce(id_1.customer_id, id_2.customer_id, id_3.customer_id, id_4.customer_id)
            as customer_id
    from checkouts
    left join {{ ref('int_identity__identifiers') }} as id_1
        on id_1.identifier = 'shop:' || checkouts.shop_customer_id
    left join {{ ref('int_identity__identifiers') }} as id_2
        on id_2.identifier = 'email:' || checkouts.customer_email
    left join {{ ref('int_identity__identifiers') }} as id_3
        on id_3.identifier = 'email:' || checkouts.email
    left join {{ ref('int_identity__identifiers') }} as id_4
        on id_4.identifier = 'phone:' || checkouts.phone_e164

),

checkout_lines as (

    select * from recent_lines
    where checkout_id in (select checkout_id from checkouts)

),

bought_since as (

    select distinct identified.checkout_id
    from identified
    inner join checkout_lines on checkout_lines.checkout_id = identified.checkout_id
    inner join (
        select customer_id, sku, ordered_at from {{ ref('fct_order_lines') }}
        where not is_cancelled
            and ordered_at >= (select min(created_at) from identified)
            and ordered_on <= {{ as_of_date() }}
            and customer_id in (select customer_id from identified)
    ) as order_lines
        on order_lines.customer_id = identified.customer_id
        and order_lines.sku = checkout_lines.sku
        and order_lines.ordered_at >= identified.created_at

),

line_summary as (

    select
        checkout_id,
        count(*) as line_count,
        sum(quantity) as item_quantity,
        {{ ordered_string_agg('sku', "', '", 'line_position') }} as skus
    from checkout_lines
    group by 1

),

final as (

    select
        identified.checkout_id,
        identified.customer_id,
        identified.created_at,
        identified.currency,
        identified.total_price,
        identified.total_price_reporting,
        line_summary.line_count,
        line_summary.item_quantity,
        line_summary.skus
    from identified
    left join line_summary on line_summary.checkout_id = identified.checkout_id
    where identified.customer_id is not null
        and identified.checkout_id not in (select checkout_id from bought_since)

)

select * from final
