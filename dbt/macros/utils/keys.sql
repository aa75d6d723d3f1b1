{#- A short, stable surrogate key: the first 16 hex digits (64 bits) of the MD5 of the
    parts joined with '|'. NULL parts become '' so the key is never NULL. -#}
{% macro short_hash(parts) -%}
    substr(md5(
        {%- for part in parts %}
        coalesce(cast({{ part }} as {{ dbt.type_string() }}), '')
        {%- if not loop.last %} || '|' || {% endif -%}
        {% endfor %}
    ), 1, 16)
{%- endmacro %}
