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

{#- The adapter's spelling of a portable type name (dbt's cross-database type macros). -#}
{% macro portable_type(type) -%}
    {%- if type == 'string' -%} {{ dbt.type_string() }}
    {%- elif type == 'timestamp' -%} {{ dbt.type_timestamp() }}
    {%- elif type == 'timestamptz' -%} timestamp with time zone
    {%- elif type == 'integer' -%} {{ dbt.type_int() }}
    {%- elif type == 'bigint' -%} {{ dbt.type_bigint() }}
    {%- elif type == 'double' -%} {{ type_double() }}
    {%- elif type in ('date', 'boolean') -%} {{ type }}
    {%- else -%} {{ exceptions.raise_compiler_error("portable_type: unknown type " ~ type) }}
    {%- endif -%}
{%- endmacro %}

{#- A 64-bit float. dbt.type_float() is `float`, which DuckDB reads as 32 bits: too coarse
    for money and for confidence bounds. -#}
{% macro type_double() -%}
    {{ return(adapter.dispatch('type_double')()) }}
{%- endmacro %}
{% macro default__type_double() -%} double precision {%- endmacro %}
{% macro bigquery__type_double() -%} float64 {%- endmacro %}
