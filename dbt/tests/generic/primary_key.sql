{#- The columns together identify a row: no NULL in any of them and no two rows alike.
    One scan instead of separate unique and not_null tests, which matters on staging
    views that deduplicate on every read. -#}
{% test primary_key(model, columns) %}
select {{ columns | join(', ') }}, count(*) as row_count
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
    {%- for column in columns %} or {{ column }} is null{% endfor %}
{% endtest %}
