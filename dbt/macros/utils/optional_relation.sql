{#- A relation that may not exist yet, as a subquery with fixed columns and types.

    `relation` is a source() or ref() (so dbt records the lineage either way); `columns` maps
    each column to a portable type name: string, timestamp, timestamptz, date, integer,
    bigint, double, boolean. When the relation exists, its columns are selected and cast to
    those types; when it does not (sms.ledger before the first plan ever, raw.sms_events
    before the ingest layer created it), an empty subquery with the same columns and types
    stands in, so the models build, their tests run and everything downstream is simply
    empty.

    Views built over the empty stand-in stay empty until the next `dbt build` binds them to
    the real table: the pipeline rebuilds after every load, so that is at most one cycle. -#}
{% macro optional_relation(relation, columns) -%}
    {%- set existing = none -%}
    {%- if execute -%}
        {%- set existing = adapter.get_relation(
            database=relation.database, schema=relation.schema, identifier=relation.identifier) -%}
    {%- endif -%}
    (
        select
        {%- for name, type in columns.items() %}
            cast({{ name if existing is not none else 'null' }} as {{ portable_type(type) }}) as {{ name }}
            {%- if not loop.last %},{% endif %}
        {%- endfor %}
        {% if existing is not none -%}
        from {{ relation }}
        {%- else -%}
        where 1 = 0
        {%- endif %}
    )
{%- endmacro %}
