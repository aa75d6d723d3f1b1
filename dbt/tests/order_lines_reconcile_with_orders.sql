-- Lines add up to their order to the cent, in local and reporting currency.
select
    orders.order_key,
    orders.net_local,
    lines.net_local as lines_net_local,
    orders.net_amount,
    lines.net_amount as lines_net_amount
from {{ ref('fct_orders') }} as orders
left join (
    select
        order_key,
        sum(net_local) as net_local,
        sum(net_amount) as net_amount,
        sum(revenue_amount) as revenue_amount,
        count(*) as line_count
    from {{ ref('fct_order_lines') }}
    group by 1
) as lines on lines.order_key = orders.order_key
where lines.order_key is null
    or lines.net_local <> orders.net_local
    or lines.net_amount <> orders.net_amount
    or lines.revenue_amount <> orders.revenue_amount
    or lines.line_count <> orders.line_count
