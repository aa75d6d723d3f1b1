{#- Portable column types: the adapter's spelling of a type, for models that cast. -#}

{#- The adapter's spelling of a portable type name (dbt's cross-database type macros). -#}
{% macro portable_type(type) -%}
    {%- if type == 'string' -%} {{ dbt.type_string() }}
    {%- elif type == 'timestamp' -%} {{ dbt.type_timestamp() }}
    {%- elif type == 'timestamptz' -%} {{ type_timestamptz() }}
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
{% macro spark__type_double() -%} double {%- endmacro %}

{#- A timestamp with a time zone (an instant). Spark's TIMESTAMP is one. -#}
{% macro type_timestamptz() -%}
    {{ return(adapter.dispatch('type_timestamptz')()) }}
{%- endmacro %}
{% macro default__type_timestamptz() -%} timestamp with time zone {%- endmacro %}
{% macro spark__type_timestamptz() -%} timestamp {%- endmacro %}

{#- A whole number of up to 38 digits (DuckDB's HUGEINT; Spark has DECIMAL(38, 0)). -#}
{% macro type_whole_number() -%}
    {{ return(adapter.dispatch('type_whole_number')()) }}
{%- endmacro %}
{% macro default__type_whole_number() -%} hugeint {%- endmacro %}
{% macro spark__type_whole_number() -%} decimal(38, 0) {%- endmacro %}
