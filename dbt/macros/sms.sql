{#- The phone line types that take SMS (var sms_phone_types) as a SQL list literal. -#}
{% macro sms_phone_types_list() -%}
    [{%- for t in var('sms_phone_types') -%}'{{ t }}'{{ ', ' if not loop.last }}{%- endfor -%}]
{%- endmacro %}
