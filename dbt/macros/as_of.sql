{#- The day the customer marts describe. `--vars '{as_of: "2026-11-22"}'` pins it;
    without it, today's UTC date, computed once in Jinja so every model of one
    invocation agrees even when the run crosses midnight. Everything before 00:00 UTC
    of this day counts. -#}
{% macro as_of_date_string() -%}
    {%- set value = var('as_of', none) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {%- set value = modules.datetime.datetime.utcnow().date().isoformat() -%}
    {%- endif -%}
    {%- set value = value | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
        {{ exceptions.raise_compiler_error("var as_of must be a date YYYY-MM-DD, got: " ~ value) }}
    {%- endif -%}
    {{- value -}}
{%- endmacro %}

{% macro as_of_date() -%}
    cast('{{ as_of_date_string() }}' as date)
{%- endmacro %}

{#- 00:00 UTC of the as_of day, as a UTC timestamp: the exclusive end of the data window. -#}
{% macro as_of_timestamp() -%}
    cast('{{ as_of_date_string() }} 00:00:00' as timestamp)
{%- endmacro %}
