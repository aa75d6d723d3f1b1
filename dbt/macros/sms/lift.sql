{#- Confidence intervals for conversion rates and their differences, with z = var
    lift_confidence_z (1.96: 95%). Arguments are SQL expressions: x successes out of n
    trials. NULL when n is 0. Pure arithmetic (sqrt, ln, exp), so any warehouse runs them. -#}

{#- The Wilson score interval of a proportion x / n: unlike the normal approximation it
    stays inside [0, 1] and behaves at 0 and n successes, which small holdouts hit. -#}
{% macro wilson_center(x, n, z=none) -%}
    {%- set z = z if z is not none else var('lift_confidence_z') -%}
    (case when ({{ n }}) > 0 then
        (cast({{ x }} as {{ type_double() }}) / ({{ n }}) + {{ z }} * {{ z }} / (2.0 * ({{ n }})))
        / (1 + {{ z }} * {{ z }} / cast({{ n }} as {{ type_double() }}))
    end)
{%- endmacro %}

{% macro wilson_half_width(x, n, z=none) -%}
    {%- set z = z if z is not none else var('lift_confidence_z') -%}
    (case when ({{ n }}) > 0 then
        {{ z }} / (1 + {{ z }} * {{ z }} / cast({{ n }} as {{ type_double() }}))
        * sqrt(
            greatest(
                cast({{ x }} as {{ type_double() }}) / ({{ n }})
                    * (1 - cast({{ x }} as {{ type_double() }}) / ({{ n }})),
                0
            ) / ({{ n }})
            + {{ z }} * {{ z }} / (4.0 * ({{ n }}) * ({{ n }}))
        )
    end)
{%- endmacro %}

{% macro wilson_low(x, n, z=none) -%}
    greatest({{ wilson_center(x, n, z) }} - {{ wilson_half_width(x, n, z) }}, 0)
{%- endmacro %}

{% macro wilson_high(x, n, z=none) -%}
    least({{ wilson_center(x, n, z) }} + {{ wilson_half_width(x, n, z) }}, 1)
{%- endmacro %}

{#- Newcombe's hybrid score interval (his method 10) for the difference of two proportions
    pt - pc, from the Wilson intervals of each arm:
        low  = d - sqrt((pt - lt)^2 + (uc - pc)^2)
        high = d + sqrt((ut - pt)^2 + (pc - lc)^2)
    Arguments: successes and trials of treatment (xt, nt) and control (xc, nc). -#}
{% macro newcombe_bound(xt, nt, xc, nc, side, z=none) -%}
    {%- set pt -%} (cast({{ xt }} as {{ type_double() }}) / nullif({{ nt }}, 0)) {%- endset -%}
    {%- set pc -%} (cast({{ xc }} as {{ type_double() }}) / nullif({{ nc }}, 0)) {%- endset -%}
    {%- if side == 'low' -%}
    ({{ pt }} - {{ pc }} - sqrt(
        power({{ pt }} - {{ wilson_low(xt, nt, z) }}, 2) + power({{ wilson_high(xc, nc, z) }} - {{ pc }}, 2)))
    {%- else -%}
    ({{ pt }} - {{ pc }} + sqrt(
        power({{ wilson_high(xt, nt, z) }} - {{ pt }}, 2) + power({{ pc }} - {{ wilson_low(xc, nc, z) }}, 2)))
    {%- endif -%}
{%- endmacro %}

{#- Katz's log interval of the relative risk pt / pc, as a relative lift (ratio - 1):
    exp(ln(pt / pc) +- z * sqrt(1/xt - 1/nt + 1/xc - 1/nc)) - 1. NULL when either arm has no
    success (the ratio is 0 or infinite and the log has no standard error). -#}
{% macro katz_relative_lift_bound(xt, nt, xc, nc, side, z=none) -%}
    {%- set z = z if z is not none else var('lift_confidence_z') -%}
    (case when ({{ xt }}) > 0 and ({{ xc }}) > 0 and ({{ nt }}) > 0 and ({{ nc }}) > 0 then
        exp(
            ln((cast({{ xt }} as {{ type_double() }}) / ({{ nt }}))
                / (cast({{ xc }} as {{ type_double() }}) / ({{ nc }})))
            {{ '-' if side == 'low' else '+' }} {{ z }} * sqrt(
                1.0 / ({{ xt }}) - 1.0 / ({{ nt }}) + 1.0 / ({{ xc }}) - 1.0 / ({{ nc }}))
        ) - 1
    end)
{%- endmacro %}
