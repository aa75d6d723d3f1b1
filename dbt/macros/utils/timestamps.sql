{#- All timestamps in staging and marts are UTC, without a zone (TIMESTAMP). -#}

{#- A timestamp with time zone as a UTC timestamp. -#}
{% macro to_utc(column) -%}
    {{ return(adapter.dispatch('to_utc')(column)) }}
{%- endmacro %}
{% macro default__to_utc(column) -%}
    ({{ column }} at time zone 'UTC')
{%- endmacro %}
{#- Spark: a TIMESTAMP is an instant shown in the session zone, which the spark target pins
    to UTC (profiles.yml), so the instant already reads as UTC. -#}
{% macro spark__to_utc(column) -%}
    cast({{ column }} as timestamp)
{%- endmacro %}

{#- A wall-clock timestamp read in the IANA zone held by `zone_column`, as UTC. -#}
{% macro local_to_utc(local_timestamp, zone_column) -%}
    {{ return(adapter.dispatch('local_to_utc')(local_timestamp, zone_column)) }}
{%- endmacro %}
{% macro default__local_to_utc(local_timestamp, zone_column) -%}
    (({{ local_timestamp }} at time zone {{ zone_column }}) at time zone 'UTC')
{%- endmacro %}
{% macro spark__local_to_utc(local_timestamp, zone_column) -%}
    to_utc_timestamp({{ local_timestamp }}, {{ zone_column }})
{%- endmacro %}

{#- A UTC timestamp as the wall clock in the IANA zone `zone` (a column or a quoted
    literal), without a zone: cast it to a date for the local day. -#}
{% macro utc_to_local(utc_timestamp, zone) -%}
    {{ return(adapter.dispatch('utc_to_local')(utc_timestamp, zone)) }}
{%- endmacro %}
{% macro default__utc_to_local(utc_timestamp, zone) -%}
    (({{ utc_timestamp }} at time zone 'UTC') at time zone {{ zone }})
{%- endmacro %}
{% macro spark__utc_to_local(utc_timestamp, zone) -%}
    from_utc_timestamp({{ utc_timestamp }}, {{ zone }})
{%- endmacro %}

{#- True when an event is dated after the day its file was delivered (plus a tolerance
    for time zones): it cannot have happened yet, so it is a data error. Deliberately
    measured against the delivery day, not the run date, so the flag never changes
    once a row is loaded (incremental and full-refresh builds agree). -#}
{% macro is_future_dated(event_timestamp, delivered_on) -%}
    coalesce(
        cast({{ event_timestamp }} as date)
            > {{ dbt.dateadd('day', var('future_tolerance_days'), delivered_on) }},
        false
    )
{%- endmacro %}

{#- Whole minutes elapsed from `start` to `end` (floor), e.g. 59 s is 0 minutes. dbt's
    datediff counts minute boundaries crossed instead (10:00:59 -> 10:01:00 is 1). -#}
{% macro minutes_between(start, end) -%}
    cast(floor({{ dbt.datediff(start, end, 'second') }} / 60.0) as {{ dbt.type_int() }})
{%- endmacro %}

{#- The wall-clock timestamp of a local date and a time of day. Spark has no TIME type: the
    landing's time of day reaches it as text (HH:MM:SS). -#}
{% macro date_at_time(date_column, time_column) -%}
    {{ return(adapter.dispatch('date_at_time')(date_column, time_column)) }}
{%- endmacro %}
{% macro default__date_at_time(date_column, time_column) -%}
    ({{ date_column }} + {{ time_column }})
{%- endmacro %}
{% macro spark__date_at_time(date_column, time_column) -%}
    to_timestamp(concat(cast({{ date_column }} as string), ' ', cast({{ time_column }} as string)))
{%- endmacro %}
