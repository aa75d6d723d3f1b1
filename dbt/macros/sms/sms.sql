{#- The phone line types that take SMS (var sms_phone_types) as a SQL list literal. -#}
{% macro sms_phone_types_list() -%}
    {{ string_list_literal(var('sms_phone_types')) }}
{%- endmacro %}

{#- The rank of a delivery status: a message's status only moves forward, and among the
    three final statuses (equal rank) the first one reported stays (docs/outcomes.md).
    NULL for anything else. -#}
{% macro sms_status_rank(status) -%}
    case {{ status }}
        when 'queued' then 1
        when 'sent' then 2
        when 'delivered' then 3
        when 'undelivered' then 3
        when 'failed' then 3
    end
{%- endmacro %}

{#- var sms_hard_failure_codes as a SQL IN list: ('30005', '30006', ...). -#}
{% macro sms_hard_failure_codes_in_list() -%}
    ({%- for code in var('sms_hard_failure_codes') -%}'{{ code }}'{{ ', ' if not loop.last }}{%- endfor -%})
{%- endmacro %}
