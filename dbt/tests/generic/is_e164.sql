{#- Fails on every non-NULL value that is not an E.164 number: + and 7 to 15 digits. -#}
{% test is_e164(model, column_name) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
    and not regexp_matches({{ column_name }}, '^\+[1-9][0-9]{6,14}$')
{% endtest %}
