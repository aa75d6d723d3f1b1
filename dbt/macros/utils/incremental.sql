{#- A predicate for incremental models: the row's `column` (when it was loaded, by
    default; `_built_at` for a model fed by another model's rewrites) is after the newest
    value of that column this model already holds (among its rows matching `stored_filter`,
    e.g. one source). TRUE on a full refresh or first build. -#}
{% macro loaded_since_last_run(column='_loaded_at', stored_filter='true') -%}
    {%- if is_incremental() -%}
    {{ column }} > (
        select coalesce(max({{ column }}), cast('1900-01-01' as timestamp))
        from {{ this }} where {{ stored_filter }}
    )
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}

{#- The materialization of the models that update in place by delete + insert. dbt-spark
    offers delete + insert only on Delta or Iceberg tables (merge), whose jars cannot be
    fetched here; on Spark these models are rebuilt whole as tables, which gives the rows
    a full refresh gives (is_incremental() is false on a table). -#}
{% macro incremental_materialization() -%}
    {{- return(adapter.dispatch('incremental_materialization')()) -}}
{%- endmacro %}
{% macro default__incremental_materialization() -%} {{- return('incremental') -}} {%- endmacro %}
{% macro spark__incremental_materialization() -%} {{- return('table') -}} {%- endmacro %}

{#- The materialization of the consent marts, views in DuckDB so that they read the latest
    loaded consent events and receipts whenever they are queried. On Spark a view over
    views is planned again, whole, by every query that reads it (Spark inlines each CTE
    wherever it is referenced), so there they are tables, rebuilt by every build. -#}
{% macro live_view_materialization() -%}
    {{- return(adapter.dispatch('live_view_materialization')()) -}}
{%- endmacro %}
{% macro default__live_view_materialization() -%} {{- return('view') -}} {%- endmacro %}
{% macro spark__live_view_materialization() -%} {{- return('table') -}} {%- endmacro %}
