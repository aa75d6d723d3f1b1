-- A purchase cannot be placed after the file that reports it was loaded. Such rows are
-- data errors (the demo plants sales a year or more ahead) that staging flags and the
-- facts leave out.
select order_key, ordered_at, _loaded_at
from {{ ref('fct_orders') }}
where ordered_at > {{ dbt.dateadd('day', var('future_tolerance_days'), '_loaded_at') }}
