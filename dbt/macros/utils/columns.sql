{#- The columns of `relation` except `excluded`, comma-separated and quoted (DuckDB's
    `* EXCLUDE (...)`, which Spark does not have). `*` while dbt parses. -#}
{% macro columns_except(relation, excluded) -%}
    {%- if not execute -%}
        {{- return('*') -}}
    {%- endif -%}
    {%- set names = [] -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- if column.name | lower not in excluded | map('lower') | list -%}
            {%- do names.append(adapter.quote(column.name)) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if not names -%}
        {{ exceptions.raise_compiler_error("columns_except: no columns left of " ~ relation) }}
    {%- endif -%}
    {{- return(names | join(', ')) -}}
{%- endmacro %}

{#- A number identifying a row of a raw table, ordered as the rows were loaded: DuckDB's
    rowid. Spark tables have none; there the landing's own coordinates (file, then line)
    give the same order within a load, and the load time sets loads apart. -#}
{% macro raw_row_id() -%}
    {{ return(adapter.dispatch('raw_row_id')()) }}
{%- endmacro %}
{% macro default__raw_row_id() -%} rowid {%- endmacro %}
{% macro spark__raw_row_id() -%}
    struct(_loaded_at, _source_file, _source_line)
{%- endmacro %}
