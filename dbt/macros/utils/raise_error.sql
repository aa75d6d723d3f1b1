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
