{#- x / n as a floating-point rate, NULL when n is 0. -#}
{% macro rate(x, n) -%}
    {{ safe_divide('cast(' ~ x ~ ' as ' ~ type_double() ~ ')', n) }}
{%- endmacro %}

{#- Campaign performance measures over a CTE of fct_sms_messages rows (`messages_cte`),
    grouped by campaign, variant and the `extra_keys` columns (e.g. ['segment']). Renders
    three CTEs, `<prefix>_variants`, `<prefix>_holdouts`, `<prefix>_measures`; the last has
    the keys then the measure columns in the order the marts publish. Shared by
    mart_campaign_performance and mart_segment_performance so both compute every measure
    the same way (definitions in mart_campaign_performance.yml).

    The holdout belongs to the campaign, not to a variant: it is compared with every
    variant (grouped by campaign and extra keys only). -#}
{% macro sms_performance(messages_cte, extra_keys=[], prefix='performance') %}
{%- set keys = ['campaign_id', 'variant'] + extra_keys -%}
{%- set holdout_keys = ['campaign_id'] + extra_keys -%}
{{ prefix }}_variants as (

    select
        {% for k in keys %}{{ k }},
        {% endfor -%}
        min(plan_day) as first_plan_day,
        max(plan_day) as last_plan_day,
        count(case when arm = 'treatment' then 1 end) as planned,
        count(case when arm = 'treatment' and is_sent then 1 end) as sent,
        count(case when arm = 'treatment' and is_send_failed then 1 end) as send_failed,
        count(case when arm = 'treatment' and is_delivered then 1 end) as delivered,
        count(case when arm = 'treatment' and is_undelivered then 1 end) as undelivered,
        coalesce(sum(case when arm = 'treatment' then clicks end), 0) as clicks,
        count(case when arm = 'treatment' and is_delivered and clicks > 0 then 1 end) as clicked_messages,
        coalesce(sum(case when arm = 'treatment' then replies end), 0) as replies,
        count(case when arm = 'treatment' and is_delivered and opted_out then 1 end) as opt_outs,
        coalesce(sum(case when arm = 'treatment' then attributed_orders end), 0) as conversions,
        cast(coalesce(sum(case when arm = 'treatment' then attributed_revenue end), 0) as decimal(18, 2))
            as revenue,
        coalesce(sum(case when arm = 'treatment' and is_sent then cost_usd end), 0) as cost_usd,
        -- lift units: every sent message of the variant, converted = any purchase in its window
        count(case when arm = 'treatment' and is_sent then 1 end) as treated_customers,
        count(case when arm = 'treatment' and is_sent and has_purchase_in_window then 1 end)
            as treated_converters,
        cast(coalesce(sum(case when arm = 'treatment' and is_sent then revenue_in_window end), 0)
            as decimal(18, 2)) as treated_revenue
    from {{ messages_cte }}
    group by {% for k in keys %}{{ k }}{{ ', ' if not loop.last }}{% endfor %}

),

{{ prefix }}_holdouts as (

    select
        {% for k in holdout_keys %}{{ k }},
        {% endfor -%}
        count(*) as holdout_customers,
        count(case when has_purchase_in_window then 1 end) as holdout_converters,
        cast(coalesce(sum(revenue_in_window), 0) as decimal(18, 2)) as holdout_revenue
    from {{ messages_cte }}
    where arm = 'holdout'
    group by {% for k in holdout_keys %}{{ k }}{{ ', ' if not loop.last }}{% endfor %}

),

{{ prefix }}_counts as (

    select
        variants.*,
        coalesce(holdouts.holdout_customers, 0) as holdout_customers,
        coalesce(holdouts.holdout_converters, 0) as holdout_converters,
        cast(coalesce(holdouts.holdout_revenue, 0) as decimal(18, 2)) as holdout_revenue
    from {{ prefix }}_variants as variants
    left join {{ prefix }}_holdouts as holdouts
        on {% for k in holdout_keys -%}
        holdouts.{{ k }} = variants.{{ k }}{{ ' and ' if not loop.last }}
        {%- endfor %}

),

{{ prefix }}_measures as (

    select
        {% for k in keys %}{{ k }},
        {% endfor -%}
        first_plan_day,
        last_plan_day,
        planned,
        sent,
        send_failed,
        delivered,
        undelivered,
        {{ rate('delivered', 'sent') }} as delivery_rate,
        clicks,
        clicked_messages,
        {{ rate('clicked_messages', 'delivered') }} as click_rate,
        replies,
        opt_outs,
        {{ rate('opt_outs', 'delivered') }} as opt_out_rate,
        conversions,
        revenue,
        {{ round_money('cost_usd', 4) }} as cost_usd,
        {{ safe_divide('cast(revenue as ' ~ type_double() ~ ')', 'cost_usd') }} as roas,
        treated_customers,
        treated_converters,
        {{ rate('treated_converters', 'treated_customers') }} as treated_conversion_rate,
        treated_revenue,
        holdout_customers,
        holdout_converters,
        {{ rate('holdout_converters', 'holdout_customers') }} as holdout_conversion_rate,
        holdout_revenue,
        {{ rate('treated_converters', 'treated_customers') }}
            - {{ rate('holdout_converters', 'holdout_customers') }} as lift_abs,
        {{ newcombe_bound('treated_converters', 'treated_customers', 'holdout_converters', 'holdout_customers', 'low') }}
            as lift_abs_ci_low,
        {{ newcombe_bound('treated_converters', 'treated_customers', 'holdout_converters', 'holdout_customers', 'high') }}
            as lift_abs_ci_high,
        {{ safe_divide(rate('treated_converters', 'treated_customers'), rate('holdout_converters', 'holdout_customers')) }} - 1
            as lift_rel,
        {{ katz_relative_lift_bound('treated_converters', 'treated_customers', 'holdout_converters', 'holdout_customers', 'low') }}
            as lift_rel_ci_low,
        {{ katz_relative_lift_bound('treated_converters', 'treated_customers', 'holdout_converters', 'holdout_customers', 'high') }}
            as lift_rel_ci_high,
        -- what the treated would have spent in their windows at the holdout's rate per unit,
        -- subtracted from what they did spend: treated - holdout x treated_n / holdout_n,
        -- exact, rounded half-up to the cent once (no binary per-unit averages)
        case when treated_customers > 0 then
            cast({{ divide_half_up(
                'treated_revenue * holdout_customers - holdout_revenue * treated_customers',
                'holdout_customers') }} as decimal(18, 2))
        end as incremental_revenue
    from {{ prefix }}_counts

)
{% endmacro %}
