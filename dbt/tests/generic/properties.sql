{#- Several properties of one model, checked in ONE scan of it (a view is computed once, a
    table read once), where one dbt test per column and property would read it once each:
    dbt spends about 0.05 s on every test node even when its query is trivial, and a view
    is recomputed by each of its tests.

      not_null: [columns]            no NULL (dbt's not_null)
      unique: [columns]              no two non-NULL values alike (dbt's unique)
      accepted_values: {column: [values]}
                                     every non-NULL value is listed (dbt's accepted_values;
                                     strings are quoted, numbers and booleans are not)
      is_e164: [columns]             every non-NULL value is + and 7 to 15 digits
      expressions: [SQL]             true on every row (expression_is_true)
      primary_key: [columns]         together they identify a row: no NULL in any, no two
                                     rows alike (the primary_key test)

    Every property is counted on its own; when any fails, the test fails the build with an
    error naming the model, and each failing column with its property and the number of
    rows (`properties of dim_customers failed: customer_id not_null in 3 rows; ...`). The
    `where` config applies to all the properties of one test: properties that may be checked
    on the rows the latest build wrote go in a test of their own (`__latest_build__`). -#}
{% test properties(model, not_null=[], unique=[], accepted_values={}, is_e164=[], expressions=[], primary_key=[]) %}
{%- set checks = [] -%}
{%- for column in primary_key if column not in not_null -%}
    {%- do checks.append((column, 'not_null (primary key)', column ~ ' is null')) -%}
{%- endfor -%}
{%- if primary_key -%}
    {%- do checks.append((primary_key | join(', '), 'primary key unique', none)) -%}
{%- endif -%}
{%- for column in not_null -%}
    {%- do checks.append((column, 'not_null', column ~ ' is null')) -%}
{%- endfor -%}
{%- for column in unique -%}
    {%- do checks.append((column, 'unique', none)) -%}
{%- endfor -%}
{%- for column, values in accepted_values.items() -%}
    {%- set listed = [] -%}
    {%- for value in values -%}
        {%- do listed.append("'" ~ (value | replace("'", "''")) ~ "'" if value is string else value | string) -%}
    {%- endfor -%}
    {%- do checks.append((column, 'accepted_values', column ~ ' is not null and ' ~ column ~ ' not in (' ~ listed | join(', ') ~ ')')) -%}
{%- endfor -%}
{%- for column in is_e164 -%}
    {%- do checks.append((column, 'is_e164', column ~ ' is not null and not ' ~ is_e164_sql(column))) -%}
{%- endfor -%}
{%- for expression in expressions -%}
    {%- do checks.append(('', 'expression_is_true: ' ~ expression, 'not coalesce((' ~ expression ~ '), false)')) -%}
{%- endfor -%}
{%- if not checks -%}
    {{ exceptions.raise_compiler_error("test properties: no property given") }}
{%- endif -%}
{#- the model's name: a relation, or the `where` subquery over one (get_where_subquery) -#}
{%- if model.identifier is defined -%}
    {%- set name = model.identifier -%}
{%- else -%}
    {%- set found = modules.re.search('from\\s+(\\S+)', model | string) -%}
    {%- set name = (found.group(1) if found else model | string).split('.')[-1] | replace('"', '') -%}
{%- endif -%}
with counted as (

    select
        {%- for column, property, failing in checks %}
        {% if property == 'unique' -%}
        count({{ column }}) - count(distinct {{ column }})
        {%- elif property == 'primary key unique' -%}
        count(*) - count(distinct {{ row_value(primary_key) }})
        {%- else -%}
        count(case when {{ failing }} then 1 end)
        {%- endif %} as check_{{ loop.index }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}

),

failures as (
    {{ properties_failures(checks) }}
)
select {{ raise_error_sql(
    "'properties of " ~ (name | replace("'", "''")) ~ " failed: ' || "
    ~ listagg("trim(column_name || ' ' || property) || ' in ' || cast(failing_rows as " ~ dbt.type_string() ~ ") || ' rows'", "'; '")
) }} as failed_properties
from failures
having count(*) > 0
{% endtest %}
