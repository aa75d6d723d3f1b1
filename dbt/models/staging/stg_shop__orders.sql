-- One row per web order: its latest version (latest updated_at wins; versions whose
-- updated_at lies after their own delivery day rank last, so a clock error cannot freeze
-- an order in an old state; exact duplicates vanish in the same step). created_at comes
-- from the versions whose created_at is plausible; an order with none is flagged
-- is_future_dated (a data error, kept out of the purchase facts).
with versions as (

    select * from {{ ref('base_shop__orders') }}

),

winners as (

    -- one aggregate pass on narrow columns picks each order's winning row; the wide row
    -- (with its nested lists) is fetched below
    select
        order_id,
        arg_max(
            _row_id,
            (not is_updated_future_dated, updated_at, delivered_on, _loaded_at, _row_id)
        ) as _row_id,
        min(created_at) filter (where not is_created_future_dated) as plausible_created_at,
        count(distinct updated_at) as version_count,
        min(delivered_on) as first_delivered_on,
        max(_loaded_at) as last_loaded_at
    from versions
    group by 1

),

final as (

    select
        versions.order_id,
        versions.order_name,
        versions.email,
        versions.phone_e164,
        versions.shop_customer_id,
        versions.customer_email,
        versions.customer_phone_e164,
        versions.customer_first_name,
        versions.customer_last_name,
        versions.shipping_country,
        coalesce(winners.plausible_created_at, versions.created_at) as created_at,
        winners.plausible_created_at is null as is_future_dated,
        versions.updated_at,
        versions.currency,
        fx.rate_to_reporting,
        versions.total_price,
        versions.subtotal_price,
        versions.total_discounts,
        versions.financial_status,
        versions.cancelled_at,
        versions.cancelled_at is not null as is_cancelled,
        versions.cancel_reason,
        versions.discount_codes,
        versions.discount_codes[1].code as discount_code,
        versions.line_items,
        versions.refunds,
        winners.version_count,
        winners.first_delivered_on,
        versions.delivered_on as last_delivered_on,
        winners.last_loaded_at as _loaded_at
    from winners
    inner join versions on versions._row_id = winners._row_id
    left join {{ ref('stg_reference__fx_rates') }} as fx
        on fx.currency = versions.currency

)

select * from final
