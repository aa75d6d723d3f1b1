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
