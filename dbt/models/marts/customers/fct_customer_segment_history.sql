{{
    config(
        materialized=incremental_materialization(),
        unique_key='history_key',
        incremental_strategy='delete+insert',
        full_refresh=false,
        on_schema_change='fail'
    )
}}

-- History is made by running, not recomputed: hence `full_refresh=false`, and a run whose
-- as_of lies before the newest recorded change writes nothing.
with current_members as (

    select customer_id, segment, segment_detail, reason, as_of_date
    from {{ ref('dim_customer_segments') }}

),

{% if is_incremental() %}

latest_recorded as (

    select coalesce(max(coalesce(left_on, entered_on)), cast('1900-01-01' as date)) as recorded_on
    from {{ this }}

),

open_intervals as (

    select * from {{ this }} where left_on is null

),

entries as (

    select current_members.*
    from current_members
    left join open_intervals
        on open_intervals.customer_id = current_members.customer_id
        and open_intervals.segment = current_members.segment
        and open_intervals.segment_detail is not distinct from current_members.segment_detail
    where open_intervals.customer_id is null

),

exits as (

    select
        open_intervals.history_key,
        open_intervals.customer_id,
        open_intervals.segment,
        open_intervals.segment_detail,
        open_intervals.entry_reason,
        open_intervals.entered_on,
        {{ as_of_date() }} as left_on
    from open_intervals
    left join current_members
        on current_members.customer_id = open_intervals.customer_id
        and current_members.segment = open_intervals.segment
        and current_members.segment_detail is not distinct from open_intervals.segment_detail
    where current_members.customer_id is null

),

{% else %}

entries as (

    select * from current_members

),

{% endif %}

opened as (

    select
        {{ short_hash(['customer_id', 'segment', 'segment_detail', 'as_of_date']) }} as history_key,
        customer_id,
        segment,
        segment_detail,
        reason as entry_reason,
        as_of_date as entered_on,
        cast(null as date) as left_on
    from entries

),

final as (

    select * from opened
    {% if is_incremental() %}
    union all
    select * from exits
    {% endif %}

)

select * from final
{% if is_incremental() %}
where {{ as_of_date() }} >= (select recorded_on from latest_recorded)
{% endif %}
