{#- Fixed-threshold RFM scores (var rfm_scoring: fixed). -#}

{#- The four bounds of var `name`, checked: four numbers, strictly ascending. -#}
{% macro rfm_thresholds(name) -%}
    {%- set bounds = var(name) -%}
    {#- filters, not a loop: a variable set inside a Jinja loop does not outlive it -#}
    {%- set ok = bounds is iterable and bounds is not string and bounds | length == 4
        and bounds | select('number') | list | length == 4
        and bounds | unique | list | length == 4
        and bounds | sort | list == bounds | list -%}
    {%- if not ok -%}
        {{ exceptions.raise_compiler_error(
            "var " ~ name ~ " must be four ascending numbers (the bounds of scores 2 to 5), got: "
            ~ bounds) }}
    {%- endif -%}
    {{- return(bounds) -}}
{%- endmacro %}

{#- 1-5 from four ascending bounds. 'at_least' (frequency, monetary): 5 from the 4th bound
    up, 4 from the 3rd, ..., 1 below the 1st. 'at_most' (recency in days): 5 at or under
    the 1st bound, 4 under the 2nd, ..., 1 beyond the 4th. -#}
{% macro rfm_fixed_score(column, bounds, direction) -%}
    case
    {%- if direction == 'at_least' %}
        {%- for b in bounds | reverse %}
        when {{ column }} >= {{ b }} then {{ 5 - loop.index0 }}
        {%- endfor %}
    {%- else %}
        {%- for b in bounds %}
        when {{ column }} <= {{ b }} then {{ 5 - loop.index0 }}
        {%- endfor %}
    {%- endif %}
        else 1
    end
{%- endmacro %}
