{#- The spark target's sources: the Parquet copies of the loader's tables
    (dagster_project/spark/raw_tables.py), registered as Spark tables before every run
    (on-run-start) from the catalog that export writes. Drop and create is metadata only,
    and picks up columns the loader added since. Nothing on other engines. -#}
{% macro register_spark_sources() -%}
    {{ return(adapter.dispatch('register_spark_sources')()) }}
{%- endmacro %}
{% macro default__register_spark_sources() -%} select 1 {%- endmacro %}
{% macro spark__register_spark_sources() -%}
    {%- if execute -%}
        {%- set tables_dir = env_var('SMS_SPARK_DIR', env_var('SMS_DATA_DIR', '../data') ~ '/spark') ~ '/tables' -%}
        {%- set catalog = run_query(
            "select schema_name, table_name, location from parquet.`" ~ tables_dir ~ "/_catalog`") -%}
        {%- if catalog.rows | length == 0 -%}
            {{ exceptions.raise_compiler_error(
                "spark target: no source tables in " ~ tables_dir ~ ": export them first "
                ~ "(python -m dagster_project.spark export)") }}
        {%- endif -%}
        {%- for schema_name in catalog.columns['schema_name'].values() | unique -%}
            {%- do run_query('create database if not exists ' ~ schema_name) -%}
        {%- endfor -%}
        {%- for schema_name, table_name, location in catalog.rows -%}
            {%- do run_query('drop table if exists ' ~ schema_name ~ '.' ~ table_name) -%}
            {%- do run_query('create table ' ~ schema_name ~ '.' ~ table_name
                ~ " using parquet location '" ~ location ~ "'") -%}
        {%- endfor -%}
        {%- do log('spark target: registered ' ~ (catalog.rows | length) ~ ' source tables from ' ~ tables_dir, info=true) -%}
    {%- endif -%}
    select 1
{%- endmacro %}
