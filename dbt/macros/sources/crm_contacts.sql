{#- Which version of a CRM contact is its current one: the ORDER BY of a window
    partitioned by contact_id, first row wins. The latest Last Modified Date wins; a
    version modified after its own delivery day (a clock error) only wins when there is
    nothing else. stg_crm__contacts applies it to every version, the incremental
    int_customers__profile to the versions of the contacts it rebuilds. -#}
{% macro crm_contact_current_version_order() -%}
    is_future_dated, last_modified_at desc, delivered_on desc, _loaded_at desc,
    _source_file, _source_line
{%- endmacro %}
