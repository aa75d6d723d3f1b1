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

{#- The number of elements of a list (NULL for a NULL list). -#}
{% macro list_length(list) -%}
    {{ return(adapter.dispatch('list_length')(list)) }}
{%- endmacro %}
{% macro default__list_length(list) -%} len({{ list }}) {%- endmacro %}
{% macro spark__list_length(list) -%} size({{ list }}) {%- endmacro %}

{#- In a select list: one row per element of `list` (none for an empty or NULL list). -#}
{% macro unnest_list(list) -%}
    {{ return(adapter.dispatch('unnest_list')(list)) }}
{%- endmacro %}
{% macro default__unnest_list(list) -%} unnest({{ list }}) {%- endmacro %}
{% macro spark__unnest_list(list) -%} explode({{ list }}) {%- endmacro %}

{#- The first element of a list, NULL when it is empty or NULL (lists count from 1 in
    DuckDB, arrays from 0 in Spark, where an index past the end is an error). -#}
{% macro first_element(list) -%}
    {{ return(adapter.dispatch('first_element')(list)) }}
{%- endmacro %}
{% macro default__first_element(list) -%} {{ list }}[1] {%- endmacro %}
{% macro spark__first_element(list) -%} try_element_at({{ list }}, 1) {%- endmacro %}

{#- True when the list literal or column `list` holds `value`. -#}
{% macro list_has(list, value) -%}
    {{ return(adapter.dispatch('list_has')(list, value)) }}
{%- endmacro %}
{% macro default__list_has(list, value) -%} list_contains({{ list }}, {{ value }}) {%- endmacro %}
{% macro spark__list_has(list, value) -%} array_contains({{ list }}, {{ value }}) {%- endmacro %}

{#- Aggregate: the values of `expression` in the group as a list ordered by `order_by`
    (an ascending expression; ties keep no particular order). -#}
{% macro ordered_list(expression, order_by) -%}
    {{ return(adapter.dispatch('ordered_list')(expression, order_by)) }}
{%- endmacro %}
{% macro default__ordered_list(expression, order_by) -%}
    list({{ expression }} order by {{ order_by }})
{%- endmacro %}
{% macro spark__ordered_list(expression, order_by) -%}
    transform(
        array_sort(collect_list(struct({{ order_by }} as sort_key, {{ expression }} as value))),
        entry -> entry.value
    )
{%- endmacro %}

{#- Aggregate: the strings of `expression` joined by `separator`, ordered by `order_by`. -#}
{% macro ordered_string_agg(expression, separator, order_by) -%}
    {{ return(adapter.dispatch('ordered_string_agg')(expression, separator, order_by)) }}
{%- endmacro %}
{% macro default__ordered_string_agg(expression, separator, order_by) -%}
    string_agg({{ expression }}, {{ separator }} order by {{ order_by }})
{%- endmacro %}
{% macro spark__ordered_string_agg(expression, separator, order_by) -%}
    nullif(array_join({{ spark__ordered_list(expression, order_by) }}, {{ separator }}), '')
{%- endmacro %}

{#- In a select list: one row per position of the lists in `lists` (alias -> list
    expression, all of one length), each list's element under its alias, and the position
    (from 1) under `position`. -#}
{% macro unnest_lists(lists, position) -%}
    {{ return(adapter.dispatch('unnest_lists')(lists, position)) }}
{%- endmacro %}
{% macro default__unnest_lists(lists, position) -%}
    {%- for alias, list in lists.items() %}
    unnest({{ list }}) as {{ alias }},
    {%- endfor %}
    generate_subscripts({{ (lists.values() | list)[0] }}, 1) as {{ position }}
{%- endmacro %}
{#- Spark allows one generator per select: the lists are zipped by position into structs,
    which `inline` spreads into columns. -#}
{% macro spark__unnest_lists(lists, position) -%}
    {%- set first = (lists.values() | list)[0] -%}
    inline(transform({{ first }}, (element, index) -> named_struct(
        {%- for alias, list in lists.items() %}
        '{{ alias }}', {% if loop.first %}element{% else %}try_element_at({{ list }}, index + 1){% endif %},
        {%- endfor %}
        '{{ position }}', index + 1
    )))
{%- endmacro %}

{#- The sum of a list of whole numbers, NULL when it holds none that is not NULL. -#}
{% macro list_sum_whole(list) -%}
    {{ return(adapter.dispatch('list_sum_whole')(list)) }}
{%- endmacro %}
{% macro default__list_sum_whole(list) -%} list_sum({{ list }}) {%- endmacro %}
{% macro spark__list_sum_whole(list) -%}
    aggregate({{ list }}, cast(null as decimal(38, 0)),
        (total, x) -> cast(case when x is null then total else coalesce(total, 0) + x end as decimal(38, 0)))
{%- endmacro %}

{#- A list of string literals (an empty one typed as a list of strings). -#}
{% macro string_list_literal(values) -%}
    {{ return(adapter.dispatch('string_list_literal')(values)) }}
{%- endmacro %}
{% macro default__string_list_literal(values) -%}
    [{%- for v in values -%}'{{ v }}'{{ ', ' if not loop.last }}{%- endfor -%}]
{%- endmacro %}
{% macro spark__string_list_literal(values) -%}
    {%- if values | length == 0 -%} cast(array() as array<string>)
    {%- else -%} array({%- for v in values -%}'{{ v }}'{{ ', ' if not loop.last }}{%- endfor -%})
    {%- endif -%}
{%- endmacro %}
