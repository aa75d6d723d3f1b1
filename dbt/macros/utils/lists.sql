{#- Lists of strings, for the columns that carry a set of values per row (an order's
    categories, a cart's SKUs). DuckDB and Spark spell both differently, so models call
    these instead of writing either dialect inline. -#}

{#- The portable type of a list of strings (for casting a NULL list). -#}
{% macro type_string_list() -%}
    {{ return(adapter.dispatch('type_string_list')()) }}
{%- endmacro %}
{% macro default__type_string_list() -%} {{ dbt.type_string() }}[] {%- endmacro %}
{% macro spark__type_string_list() -%} array<string> {%- endmacro %}

{#- Aggregate: the distinct non-NULL values of `expression` in the group, sorted (so the
    list is the same on every rebuild), an empty list when there are none. -#}
{% macro distinct_sorted_list(expression) -%}
    {{ return(adapter.dispatch('distinct_sorted_list')(expression)) }}
{%- endmacro %}
{% macro default__distinct_sorted_list(expression) -%}
    list_sort(list_distinct(list({{ expression }})))
{%- endmacro %}
{% macro spark__distinct_sorted_list(expression) -%}
    array_sort(collect_set({{ expression }}))
{%- endmacro %}
