-- One row per checkout in its latest state (a completed version beats an abandoned one,
-- then the latest updated_at; exact duplicates vanish in the same step). created_at comes
-- from a version whose created_at is plausible; a checkout with none is flagged
-- is_future_dated and is never "abandoned in the last 48 hours".
with versions as (

    select * from {{ ref('base_shop__checkouts') }}

),

winners as (

    select
        checkout_id,
        arg_max(
            _row_id,
            (completed_at is not null, not is_updated_future_dated, updated_at, delivered_on,
                _loaded_at, _row_id)
        ) as _row_id,
        min(created_at) filter (where not is_created_future_dated) as plausible_created_at,
        min(delivered_on) as first_delivered_on,
        max(_loaded_at) as last_loaded_at
    from versions
    group by 1

),

final as (

    select
        versions.checkout_id,
        versions.checkout_token,
        versions.email,
        versions.phone_e164,
        versions.shop_customer_id,
        versions.customer_email,
        versions.shipping_country,
        coalesce(winners.plausible_created_at, versions.created_at) as created_at,
        winners.plausible_created_at is null as is_future_dated,
        versions.updated_at,
        versions.completed_at,
        versions.completed_at is not null as is_completed,
        versions.currency,
        fx.rate_to_reporting,
        versions.total_price,
        {{ to_reporting_currency('versions.total_price', 'fx.rate_to_reporting') }} as total_price_reporting,
        versions.line_items,
        winners.first_delivered_on,
        versions.delivered_on as last_delivered_on,
        winners.last_loaded_at as _loaded_at
    from winners
    inner join versions on versions._row_id = winners._row_id
    left join {{ ref('stg_reference__fx_rates') }} as fx
        on fx.currency = versions.currency

)

select * from final
