{#- The two zones that decide which day a moment belongs to. Both are environment
    variables owned by dagster_project/settings.py (same names, same defaults; the
    pipeline exports the values it resolved before it starts dbt):

      SMS_BUSINESS_TIME_ZONE  where the as-of day ends (var as_of), default UTC
      SMS_SHOP_TIME_ZONE      the web shop's configured zone, default the business's

    A POS sale needs neither: it counts on its store's local day (the row's own Date
    and Time Zone). Each macro renders the bare IANA name, checked against the tz
    database so a misspelt zone fails the compile naming its variable. -#}

{% macro business_time_zone() -%}
    {{- return(_checked_time_zone('SMS_BUSINESS_TIME_ZONE', env_var('SMS_BUSINESS_TIME_ZONE', '') | trim or 'UTC')) -}}
{%- endmacro %}

{% macro shop_time_zone() -%}
    {{- return(_checked_time_zone('SMS_SHOP_TIME_ZONE', env_var('SMS_SHOP_TIME_ZONE', '') | trim or business_time_zone())) -}}
{%- endmacro %}

{% macro _checked_time_zone(variable, value) -%}
    {%- if value not in modules.pytz.all_timezones_set -%}
        {{ exceptions.raise_compiler_error(
            variable ~ "='" ~ value ~ "' is not a time zone: use an IANA name such as "
            ~ "America/New_York, Europe/Berlin or UTC") }}
    {%- endif -%}
    {{- return(value) -}}
{%- endmacro %}
