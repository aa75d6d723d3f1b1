{#- The day the customer marts describe, var `as_of` (YYYY-MM-DD): the state at the END of
    that day in the business's zone (SMS_BUSINESS_TIME_ZONE, macros/utils/time_zones.sql).

      * A purchase counts when its day (fct_orders.ordered_on: the store's local day in
        store, the shop's day online) is on or before as_of; days since a purchase are
        as_of minus that day (a purchase on the as_of day itself is 0 days ago).
      * Anything without a purchase day (checkouts, tickets, clicks) counts when it
        happened before as_of_end_timestamp(): 00:00 of the next day in the business's
        zone, as UTC.

    Without the var, today in the business's zone, computed once in Jinja so every model
    of one invocation agrees even when the run crosses midnight. -#}
{% macro as_of_date_string() -%}
    {%- set value = var('as_of', none) -%}
    {%- if value is none or (value | string | trim) == '' -%}
        {%- set zone = modules.pytz.timezone(business_time_zone()) -%}
        {%- set value = modules.datetime.datetime.now(zone).date().isoformat() -%}
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

{#- The exclusive end of the as_of day: 00:00 of the next day in the business's zone, as
    a UTC timestamp literal (engine-neutral; pytz resolves daylight saving, and a midnight
    that does not exist locally, a spring-forward at 00:00, becomes the first instant of
    the day). -#}
{% macro as_of_end_timestamp() -%}
    {%- set day = modules.datetime.datetime.strptime(as_of_date_string() | trim, '%Y-%m-%d') -%}
    {%- set next_midnight = modules.pytz.timezone(business_time_zone()).localize(
        day + modules.datetime.timedelta(days=1), is_dst=false) -%}
    {%- set end_utc = next_midnight.astimezone(modules.pytz.utc) -%}
    cast('{{ end_utc.strftime("%Y-%m-%d %H:%M:%S") }}' as timestamp)
{%- endmacro %}
