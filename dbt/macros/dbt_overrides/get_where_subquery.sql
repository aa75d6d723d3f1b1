{#- The `where` config of data tests, with one placeholder rendered at run time:
    `__latest_build__` stands for "the rows the latest build of the model wrote"
    (`_built_at` = its newest value in the model). On an incremental model that is the
    slice the last run inserted or rewrote; after a full refresh, every row. Use it only
    for properties a run cannot break in rows it did not write (for example uniqueness
    of the delete+insert key, not-null and accepted values of columns computed from the
    row itself). Otherwise dbt's own behaviour (dbt docs: the `where` config). -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- if '__latest_build__' in where -%}
            {%- set latest -%}
                _built_at = (select max(_built_at) from {{ relation }})
            {%- endset -%}
            {%- set where = where | replace('__latest_build__', latest) -%}
        {%- endif -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}
