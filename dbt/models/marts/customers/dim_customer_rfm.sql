{%- set scoring = var('rfm_scoring') %}
{%- if scoring not in ['quintile', 'fixed'] %}
    {{ exceptions.raise_compiler_error("var rfm_scoring must be quintile or fixed, got: " ~ scoring) }}
{%- endif %}
with buyers as (

    select * from {{ ref('int_customers__order_summary') }}
    where orders_count > 0

),

measured as (

    select
        customer_id,
        days_since_last_purchase as recency_days,
        orders_count as frequency,
        revenue_amount as monetary
    from buyers

),

{% if scoring == 'quintile' -%}
quintiles as (

    select
        *,
        ntile(5) over (order by recency_days desc, customer_id) as r_quintile,
        ntile(5) over (order by frequency, customer_id) as f_quintile,
        ntile(5) over (order by monetary, customer_id) as m_quintile
    from measured

),
{%- set scores_from = 'quintiles' %}
{%- set r_score = 'min(r_quintile) over (partition by recency_days)' %}
{%- set f_score = 'min(f_quintile) over (partition by frequency)' %}
{%- set m_score = 'min(m_quintile) over (partition by monetary)' %}
{%- else %}
{%- set scores_from = 'measured' %}
{%- set r_score = rfm_fixed_score('recency_days', rfm_thresholds('rfm_recency_max_days'), 'at_most') %}
{%- set f_score = rfm_fixed_score('frequency', rfm_thresholds('rfm_frequency_min_orders'), 'at_least') %}
{%- set m_score = rfm_fixed_score('monetary', rfm_thresholds('rfm_monetary_min_amounts'), 'at_least') %}
{%- endif %}

scored as (

    select
        customer_id,
        recency_days,
        frequency,
        monetary,
        {{ r_score }} as r_score,
        {{ f_score }} as f_score,
        {{ m_score }} as m_score
    from {{ scores_from }}

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
        '{{ scoring }}' as rfm_scoring,
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
