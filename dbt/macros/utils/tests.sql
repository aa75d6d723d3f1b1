{#- SQL the project's generic tests share (tests/generic). -#}

{#- An expression that fails the query with `message` (a SQL string expression) when it is
    evaluated: DuckDB's error(), Spark's raise_error(). -#}
{% macro raise_error_sql(message) -%}
    {{ return(adapter.dispatch('raise_error_sql')(message)) }}
{%- endmacro %}

{% macro default__raise_error_sql(message) -%}
    raise_error({{ message }})
{%- endmacro %}

{% macro duckdb__raise_error_sql(message) -%}
    error({{ message }})
{%- endmacro %}

{#- One value for several columns, to count distinct combinations: the column itself when
    there is one, else a row of them (DuckDB's row(), Spark's struct()). -#}
{% macro row_value(columns) -%}
    {%- if columns | length == 1 -%}
        {{ columns[0] }}
    {%- else -%}
        {{ return(adapter.dispatch('row_value')(columns)) }}
    {%- endif -%}
{%- endmacro %}

{% macro default__row_value(columns) -%}
    struct({{ columns | join(', ') }})
{%- endmacro %}

{% macro duckdb__row_value(columns) -%}
    row({{ columns | join(', ') }})
{%- endmacro %}

{#- True when `column` holds an E.164 number: + and 7 to 15 digits, the first not 0
    (`[+]` rather than an escaped plus: the same pattern reads alike in every engine's
    string literals). -#}
{% macro is_e164_sql(column) -%}
    {{ return(adapter.dispatch('is_e164_sql')(column)) }}
{%- endmacro %}

{% macro default__is_e164_sql(column) -%}
    {{ column }} rlike '^[+][1-9][0-9]{6,14}$'
{%- endmacro %}

{% macro duckdb__is_e164_sql(column) -%}
    regexp_matches({{ column }}, '^[+][1-9][0-9]{6,14}$')
{%- endmacro %}

{#- The failing checks of the CTE `counted` (check_1 ... check_n) of the properties test,
    as rows (column_name, property, failing_rows). Spark computes a CTE again wherever it is
    referenced, so there one select per check would scan the model once per check: the
    counts are unpivoted from one read instead. -#}
{% macro properties_failures(checks) -%}
    {{ return(adapter.dispatch('properties_failures')(checks)) }}
{%- endmacro %}
{% macro default__properties_failures(checks) -%}
    {%- for column, property, failing in checks %}
    select
        '{{ column }}' as column_name,
        '{{ property | replace("'", "''") }}' as property,
        check_{{ loop.index }} as failing_rows
    from counted
    where check_{{ loop.index }} > 0
    {{ 'union all' if not loop.last }}
    {%- endfor %}
{%- endmacro %}
{% macro spark__properties_failures(checks) -%}
    select column_name, property, failing_rows
    from (
        select stack({{ checks | length }},
            {%- for column, property, failing in checks %}
            '{{ column }}', '{{ property | replace("'", "''") }}', cast(check_{{ loop.index }} as bigint)
            {{- ',' if not loop.last }}
            {%- endfor %}
        ) as (column_name, property, failing_rows)
        from counted
    ) as unpivoted
    where failing_rows > 0
{%- endmacro %}
