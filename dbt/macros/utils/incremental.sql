{#- A predicate for incremental models: the row was loaded after the newest `_loaded_at`
    this model already holds (among its rows matching `stored_filter`, e.g. one source).
    TRUE on a full refresh or first build. -#}
{% macro loaded_since_last_run(column='_loaded_at', stored_filter='true') -%}
    {%- if is_incremental() -%}
    {{ column }} > (
        select coalesce(max(_loaded_at), cast('1900-01-01' as timestamp))
        from {{ this }} where {{ stored_filter }}
    )
    {%- else -%}
    true
    {%- endif -%}
{%- endmacro %}
