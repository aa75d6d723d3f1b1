-- Recency, frequency, monetary value per buying customer as of var as_of, scored 1-5 by
-- quintile (ntile over all buyers; 5 = most recent / most frequent / highest spend) and
-- named with the classic R x FM grid (see the yml for the mapping). Customers who tie on
-- a measure share one score: the lowest quintile their value reaches, so the score never
-- depends on row order.
with buyers as (

    select * from {{ ref('int_customers__order_summary') }}
    where orders_count > 0

),

quintiles as (

    select
        customer_id,
        days_since_last_purchase as recency_days,
        orders_count as frequency,
        revenue_amount as monetary,
        ntile(5) over (order by days_since_last_purchase desc, customer_id) as r_quintile,
        ntile(5) over (order by orders_count, customer_id) as f_quintile,
        ntile(5) over (order by revenue_amount, customer_id) as m_quintile
    from buyers

),

scored as (

    select
        customer_id,
        recency_days,
        frequency,
        monetary,
        min(r_quintile) over (partition by recency_days) as r_score,
        min(f_quintile) over (partition by frequency) as f_score,
        min(m_quintile) over (partition by monetary) as m_score
    from quintiles

),

combined as (

    select
        *,
        -- frequency and money together, rounded up: (f + m) / 2
        cast(floor((f_score + m_score + 1) / 2) as integer) as fm_score
    from scored

),

final as (

    select
        customer_id,
        {{ as_of_date() }} as as_of_date,
        recency_days,
        frequency,
        monetary,
        r_score,
        f_score,
        m_score,
        fm_score,
        cast(r_score as {{ dbt.type_string() }}) || cast(f_score as {{ dbt.type_string() }})
            || cast(m_score as {{ dbt.type_string() }}) as rfm_cell,
        case
            when r_score = 5 and fm_score >= 4 then 'champions'
            when r_score in (3, 4) and fm_score >= 4 then 'loyal'
            when r_score in (4, 5) and fm_score in (2, 3) then 'potential_loyalist'
            when r_score = 5 and fm_score = 1 then 'new'
            when r_score = 4 and fm_score = 1 then 'promising'
            when r_score = 3 and fm_score <= 3 then 'needs_attention'
            when r_score <= 2 and fm_score = 5 then 'cannot_lose_them'
            when r_score <= 2 and fm_score in (3, 4) then 'at_risk'
            when r_score = 2 and fm_score <= 2 then 'hibernating'
            else 'lost'
        end as rfm_segment
    from combined

)

select * from final
