{#- Picking each web order's latest version, as two CTEs `<prefix>_winners` and
    `<prefix>_latest`, over any CTE shaped like base_shop__orders. stg_shop__orders applies
    it to every version; the incremental int_shop__order_lines to the versions of the
    orders that changed (a filter on the view would not reach below its aggregation). -#}
{% macro shop_orders_staged(versions_cte, prefix='shop') %}
{{ prefix }}_winners as (

    -- one aggregate pass on narrow columns picks each order's winning row; the wide row
    -- (with its nested lists) is fetched below
    select
        order_id,
        {{ value_at_max('_row_id', row_value([
            'not is_updated_future_dated', 'updated_at', 'delivered_on', '_loaded_at', '_row_id'])) }} as _row_id,
        min(created_at) filter (where not is_created_future_dated) as plausible_created_at,
        count(distinct updated_at) as version_count,
        min(delivered_on) as first_delivered_on,
        max(_loaded_at) as last_loaded_at
    from {{ versions_cte }} as versions
    group by 1

),

{{ prefix }}_latest as (

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
        {{ first_element('versions.discount_codes') }}.code as discount_code,
        versions.line_items,
        versions.refunds,
        winners.version_count,
        winners.first_delivered_on,
        versions.delivered_on as last_delivered_on,
        winners.last_loaded_at as _loaded_at
    from {{ prefix }}_winners as winners
    inner join {{ versions_cte }} as versions on versions._row_id = winners._row_id
    left join {{ ref('stg_reference__fx_rates') }} as fx
        on fx.currency = versions.currency

)
{% endmacro %}

{#- Web order lines with refunds applied and the order discount allocated, as CTEs ending
    in `<prefix>_order_lines`, over any CTE shaped like stg_shop__orders. -#}
{% macro shop_order_lines_staged(orders_cte, prefix='shop') %}
{{ prefix }}_allocated as (

    -- the order's discount spread over its lines in whole cents, proportional to line
    -- gross, computed on the nested list before unnesting (no window needed): each line
    -- gets the floor of its share, the first line also gets the rounding rest. Whole
    -- cents and integer division: a DECIMAL quotient would be a binary DOUBLE in DuckDB
    select
        order_id,
        total_discounts,
        currency,
        rate_to_reporting,
        _loaded_at,
        line_items,
        {{ shop_line_discount_cents('line_items', 'total_discounts') }} as discount_cents
    from {{ orders_cte }} as orders

),

{{ prefix }}_exploded as (

    select
        exploded.order_id,
        exploded.line_position,
        cast(exploded.item.id as {{ dbt.type_string() }}) as line_item_id,
        trim(exploded.item.sku) as sku,
        cast(exploded.item.product_id as {{ dbt.type_string() }}) as product_id,
        exploded.item.title as item_title,
        exploded.item.quantity as quantity,
        exploded.item.price as unit_price,
        exploded.item.quantity * exploded.item.price as gross_amount,
        cast(cast(
            coalesce(exploded.discount_cents, 0)
            + case when exploded.line_position = 1
                then cast(exploded.total_discounts * 100 as {{ type_whole_number() }})
                    - coalesce(exploded.discount_cents_total, 0)
                else 0 end
        as decimal(36, 0)) * 0.01 as decimal(18, 2)) as discount_amount,
        exploded.currency,
        exploded.rate_to_reporting,
        exploded._loaded_at
    from (
        -- unnest in the select list: DuckDB's lateral WITH ORDINALITY is far slower
        select
            order_id,
            total_discounts,
            currency,
            rate_to_reporting,
            _loaded_at,
            {{ list_sum_whole('discount_cents') }} as discount_cents_total,
            {{ unnest_lists({'item': 'line_items', 'discount_cents': 'discount_cents'}, 'line_position') }}
        from {{ prefix }}_allocated
    ) as exploded

),

{{ prefix }}_refunds as (

    select
        order_id,
        cast(refund_line.line_item_id as {{ dbt.type_string() }}) as line_item_id,
        sum(refund_line.quantity) as refunded_quantity,
        sum(refund_line.subtotal) as refunded_amount,
        max({{ to_utc('refunded_at') }}) as last_refunded_at
    from (
        select
            order_id,
            refund.created_at as refunded_at,
            {{ unnest_list('refund.refund_line_items') }} as refund_line
        from (
            select order_id, {{ unnest_list('refunds') }} as refund
            from {{ orders_cte }} as orders
            where {{ list_length('refunds') }} > 0
        ) as refund_list
    ) as refund_lines
    group by 1, 2

),

{{ prefix }}_order_lines as (

    select
        lines.order_id,
        lines.line_item_id,
        lines.line_position,
        lines.sku,
        lines.product_id,
        lines.item_title,
        lines.quantity,
        lines.unit_price,
        lines.currency,
        lines.rate_to_reporting,
        cast(lines.gross_amount as decimal(18, 2)) as gross_amount,
        lines.discount_amount,
        coalesce(refunds.refunded_quantity, 0) as refunded_quantity,
        cast(coalesce(refunds.refunded_amount, 0) as decimal(18, 2)) as refunded_amount,
        refunds.last_refunded_at,
        lines._loaded_at
    from {{ prefix }}_exploded as lines
    left join {{ prefix }}_refunds as refunds
        on refunds.order_id = lines.order_id
        and refunds.line_item_id = lines.line_item_id

)
{% endmacro %}

{#- Each line's share of the order discount in whole cents, as a list in line order: the
    floor of discount x line gross / order gross (NULL when the order's gross is 0). -#}
{% macro shop_line_discount_cents(line_items, total_discounts) -%}
    {{ return(adapter.dispatch('shop_line_discount_cents')(line_items, total_discounts)) }}
{%- endmacro %}
{% macro default__shop_line_discount_cents(line_items, total_discounts) -%}
        list_transform(
            {{ line_items }},
            lambda item: cast({{ total_discounts }} * 100 as hugeint)
                * cast(item.quantity * item.price * 100 as hugeint)
                // nullif(cast(list_sum(list_transform(
                    {{ line_items }}, lambda i: i.quantity * i.price)) * 100 as hugeint), 0)
        )
{%- endmacro %}
{% macro spark__shop_line_discount_cents(line_items, total_discounts) -%}
    {%- set order_gross_cents -%}
        nullif(cast(aggregate({{ line_items }}, cast(0 as decimal(38, 2)),
            (total, i) -> cast(total + i.quantity * i.price as decimal(38, 2))) * 100 as decimal(38, 0)), 0)
    {%- endset -%}
    transform({{ line_items }}, item -> {{ _exact_floor_div(
        'cast(' ~ total_discounts ~ ' * 100 as decimal(38, 0)) * cast(item.quantity * item.price * 100 as decimal(38, 0))',
        order_gross_cents) }})
{%- endmacro %}
