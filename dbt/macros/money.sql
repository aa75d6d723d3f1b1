{#- Money in the reporting currency (var reporting_currency) from a local amount and the
    rate from int_fx_rates / the fx_rates seed. Rounded to cents per row, so sums over
    lines and over orders agree. -#}
{% macro to_reporting_currency(amount, rate) -%}
    cast(round(cast({{ amount }} as decimal(18, 2)) * {{ rate }}, 2) as decimal(18, 2))
{%- endmacro %}
