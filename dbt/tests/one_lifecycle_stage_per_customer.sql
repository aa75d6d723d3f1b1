-- Every customer in dim_customers has exactly one lifecycle stage.
select
    customers.customer_id,
    count(lifecycle.customer_id) as stages
from {{ ref('dim_customers') }} as customers
left join {{ ref('dim_customer_lifecycle') }} as lifecycle
    on lifecycle.customer_id = customers.customer_id
group by 1
having count(lifecycle.customer_id) <> 1
