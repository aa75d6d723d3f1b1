{#- Picking each checkout's current version, as two CTEs `<prefix>_winners` and
    `<prefix>_latest`, over any CTE shaped like base_shop__checkouts: a completed version
    beats an abandoned one, then the latest updated_at (exact duplicates vanish in the same
    step). created_at comes from a version whose created_at is plausible; a checkout with
    none is flagged is_future_dated. stg_shop__checkouts applies it to every version,
    int_customers__abandoned_checkouts to the versions of recent checkouts only (a filter
    on the view would not reach below its aggregation). -#}
{% macro shop_checkouts_staged(versions_cte, prefix='checkouts') %}
{{ prefix }}_winners as (

    select
        checkout_id,
        {{ value_at_max('_row_id', row_value([
            'completed_at is not null', 'not is_updated_future_dated', 'updated_at',
            'delivered_on', '_loaded_at', '_row_id'])) }} as _row_id,
        min(created_at) filter (where not is_created_future_dated) as plausible_created_at,
        min(delivered_on) as first_delivered_on,
        max(_loaded_at) as last_loaded_at
    from {{ versions_cte }}
    group by 1

),

{{ prefix }}_latest as (

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
    from {{ prefix }}_winners as winners
    inner join {{ versions_cte }} as versions on versions._row_id = winners._row_id
    left join {{ ref('stg_reference__fx_rates') }} as fx
        on fx.currency = versions.currency

)
{% endmacro %}

{#- One row per item of each checkout, as a CTE `<prefix>_lines`, over any CTE shaped like
    stg_shop__checkouts. -#}
{% macro shop_checkout_lines_staged(checkouts_cte, prefix='checkouts') %}
{{ prefix }}_lines as (

    select
        exploded.checkout_id,
        exploded.line_position,
        trim(exploded.item.sku) as sku,
        cast(exploded.item.product_id as {{ dbt.type_string() }}) as product_id,
        exploded.item.title as item_title,
        exploded.item.quantity as quantity,
        exploded.item.price as unit_price,
        exploded.currency
    from (
        select
            checkout_id,
            currency,
            {{ unnest_lists({'item': 'line_items'}, 'line_position') }}
        from {{ checkouts_cte }}
    ) as exploded

)
{% endmacro %}
