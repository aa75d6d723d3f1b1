"""The SQL of the gated datasets that look across days or sources: volume, demand, quarantine.

Each builder returns ``query(start, end) -> (sql, params)`` for a ``Dataset`` in
``datasets``; the thresholds stay in the suite files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

# Quarantine: per delivery day just loaded, the rows loaded into raw and the rows (and
# whole files, one row each) in ingest.rejects, with the file and line of the first
# reject so a failed gate says where to look.
_QUARANTINE_SQL = """
WITH loaded AS (
    SELECT _partition_date AS day, count(*) AS rows_loaded
    FROM raw.{table} WHERE _partition_date BETWEEN $start AND $end GROUP BY 1
),
rejected AS (
    SELECT partition_date AS day, source_file, line, error_type, column_name,
           count(*) OVER (PARTITION BY partition_date) AS rows_quarantined,
           row_number() OVER (
               PARTITION BY partition_date ORDER BY source_file, line NULLS FIRST
           ) AS k
    FROM ingest.rejects
    WHERE entity = $table AND partition_date BETWEEN $start AND $end
)
SELECT
    coalesce(l.day, r.day) AS day,
    coalesce(l.rows_loaded, 0) AS rows_loaded,
    coalesce(r.rows_quarantined, 0) AS rows_quarantined,
    coalesce(l.rows_loaded, 0) + coalesce(r.rows_quarantined, 0) AS batch_rows,
    coalesce(r.rows_quarantined, 0)
        / (coalesce(l.rows_loaded, 0) + coalesce(r.rows_quarantined, 0)) AS quarantined_share,
    r.error_type || coalesce(' (' || r.column_name || ')', '') AS first_fault,
    r.source_file AS _source_file,
    r.line AS _source_line
FROM loaded l
FULL OUTER JOIN (SELECT * FROM rejected WHERE k = 1) r ON r.day = l.day
ORDER BY 1
"""


def quarantine_query(table: str) -> Callable:
    def query(start, end):
        return _QUARANTINE_SQL.format(table=table), {"start": start, "end": end, "table": table}

    return query


# Volume: a day's row count against the same weekday's median over the four weeks
# before (weekly rhythm), divided by the demand index of that day: the median of that
# ratio over the sources that follow demand (POS lines, shop orders, checkouts).
# Season, holidays and promotions move those together; a failed export moves one.
# Evaluated on the last delivery day of the load.
DEMAND_TABLES = ("pos_transactions", "shop_orders", "shop_checkouts")

_VOLUME_SQL = """
WITH counts AS (
    {unions}
),
windowed AS (
    SELECT
        source,
        day,
        rows,
        -- Days with no rows at all (before the source existed, a closure) are no baseline.
        median(rows) FILTER (WHERE rows > 0) OVER w AS baseline_rows,
        count(*) FILTER (WHERE rows > 0) OVER w AS baseline_days
    FROM counts
    WINDOW w AS (
        PARTITION BY source, dayofweek(day) ORDER BY day
        ROWS BETWEEN 4 PRECEDING AND 1 PRECEDING
    )
),
ratios AS (
    SELECT *, CASE WHEN baseline_days >= 3 THEN rows / baseline_rows END AS ratio
    FROM windowed
    WHERE day = $day
),
indexed AS (
    SELECT
        *,
        median(ratio) FILTER (WHERE source IN {demand}) OVER () AS demand_index,
        count(ratio) FILTER (WHERE source IN {demand}) OVER () AS demand_sources,
        -- The demand-driven sources together (those with a baseline): a small shop's
        -- sources are each too small to judge, their sum is not.
        CAST(sum(rows) FILTER (WHERE source IN {demand} AND baseline_days >= 3) OVER ()
            AS BIGINT) AS demand_rows,
        CAST(round(sum(baseline_rows) FILTER (
            WHERE source IN {demand} AND baseline_days >= 3) OVER ()) AS BIGINT)
            AS demand_baseline_rows
    FROM ratios
)
SELECT
    source,
    day,
    rows,
    baseline_rows,
    baseline_days,
    ratio,
    demand_index,
    demand_sources,
    CASE
        WHEN demand_sources >= 2 THEN ratio / nullif(demand_index, 0)
        ELSE ratio
    END AS relative_ratio,
    demand_rows,
    demand_baseline_rows,
    round(demand_rows / nullif(demand_baseline_rows, 0), 4) AS demand_ratio
FROM indexed
"""


def volume_query(table: str, tables: Sequence[str]) -> Callable:
    def query(start, end):
        day = end
        # Every source's counts for the five weeks up to the day, zero-filled so a
        # source that sent nothing shows as 0 rather than vanishing.
        unions = "\n    UNION ALL\n    ".join(
            f"SELECT '{t}' AS source, d.day, count(r._partition_date) AS rows "
            f"FROM range($day - INTERVAL 35 DAY, $day + INTERVAL 1 DAY, INTERVAL 1 DAY) d(day) "
            f"LEFT JOIN raw.{t} r ON r._partition_date = CAST(d.day AS DATE) "
            f"AND r._partition_date BETWEEN $day - INTERVAL 35 DAY AND $day "
            f"GROUP BY ALL"
            for t in tables
        )
        sql = (
            "SELECT * FROM ("
            + _VOLUME_SQL.format(unions=unions, demand=DEMAND_TABLES)
            + ") WHERE source = $table"
        )
        return sql, {"day": day, "table": table}

    return query
