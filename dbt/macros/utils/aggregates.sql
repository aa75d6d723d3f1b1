{#- Aggregates and window functions that DuckDB and Spark spell differently. -#}

{#- Aggregate: `value` of the row with the greatest `key` (a row_value() for several). -#}
{% macro value_at_max(value, key) -%}
    {{ return(adapter.dispatch('value_at_max')(value, key)) }}
{%- endmacro %}
{% macro default__value_at_max(value, key) -%} arg_max({{ value }}, {{ key }}) {%- endmacro %}
{% macro spark__value_at_max(value, key) -%} max_by({{ value }}, {{ key }}) {%- endmacro %}

{#- Window aggregate: the number of distinct non-NULL values of `expression` over the
    window `window` (what follows OVER). Spark has no DISTINCT in window functions. -#}
{% macro count_distinct_over(expression, window) -%}
    {{ return(adapter.dispatch('count_distinct_over')(expression, window)) }}
{%- endmacro %}
{% macro default__count_distinct_over(expression, window) -%}
    count(distinct {{ expression }}) over ({{ window }})
{%- endmacro %}
{% macro spark__count_distinct_over(expression, window) -%}
    size(collect_set({{ expression }}) over ({{ window }}))
{%- endmacro %}

{#- A row of named fields: struct_pack(a, b) in DuckDB, named_struct in Spark. -#}
{% macro named_row(columns) -%}
    {{ return(adapter.dispatch('named_row')(columns)) }}
{%- endmacro %}
{% macro default__named_row(columns) -%} struct_pack({{ columns | join(', ') }}) {%- endmacro %}
{% macro spark__named_row(columns) -%}
    named_struct({% for c in columns %}'{{ c }}', {{ c }}{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}
