-- Lines add up to their order to the cent, in local and reporting currency. Checked for the
-- orders the latest build of fct_orders wrote (every order after a full refresh) against
-- the lines the latest build of fct_order_lines wrote: a run rewrites the lines of exactly
-- the orders it rewrites, so an order whose lines were not rewritten with it shows up here
-- as an order without lines. Orders neither build touched did not change.
with orders as (

    select * from {{ ref('fct_orders') }}
    where _built_at = (select max(_built_at) from {{ ref('fct_orders') }})

),

lines as (

    select
        order_key,
        sum(net_local) as net_local,
        sum(net_amount) as net_amount,
        sum(revenue_amount) as revenue_amount,
        count(*) as line_count
    from {{ ref('fct_order_lines') }}
    where _built_at = (select max(_built_at) from {{ ref('fct_order_lines') }})
    group by 1

)

select
    orders.order_key,
    orders.net_local,
    lines.net_local as lines_net_local,
    orders.net_amount,
    lines.net_amount as lines_net_amount
from orders
left join lines on lines.order_key = orders.order_key
where lines.order_key is null
    or lines.net_local <> orders.net_local
    or lines.net_amount <> orders.net_amount
    or lines.revenue_amount <> orders.revenue_amount
    or lines.line_count <> orders.line_count
