-- An online order's purchase day is read in the shop's zone (SMS_SHOP_TIME_ZONE) when
-- fct_orders writes it. Orders written under another zone keep that zone's day in the
-- incremental table: when this fails, the setting changed since they were built, and
-- `dbt build --full-refresh` rebuilds every purchase day in the current zone.
select order_key, ordered_at, ordered_on, ordered_time_zone
from {{ ref('fct_orders') }}
where source_system = 'shop'
    and ordered_time_zone <> '{{ shop_time_zone() }}'
