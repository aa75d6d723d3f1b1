"""Row-level faults found after typing, and rows a later delivery repeats.

A row that DuckDB could type may still be unusable on its own: a required
value left empty, or an event dated after the day its file was delivered (it
cannot have happened yet: a clock or time-zone error). Such a row is moved from
the stage to the rejects with its file, line and reason, so the gates judge
what is left and a few bad rows never stop a business; how many were moved is
itself gated (``expectations/raw_quarantine.json``).

A consent opt-out is never moved for its date: the consent mart applies it from
the day it was delivered (a STOP is never ignored because its clock is wrong).

SQL over the loader's temporary ``_stage`` and the ``raw`` tables; no Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb

from dagster_project.ingest.lines import sql_str
from dagster_project.ingest.specs import Column, SourceSpec

# Matches the dbt var future_tolerance_days and the suites: an event up to a day after
# its delivery day is a time zone ahead, not a fault.
FUTURE_TOLERANCE_DAYS = 1
# How far back a repeated row is looked for: a re-sent export is a recent day's.
REDELIVERY_LOOKBACK_DAYS = 7
_DAY_OF_FILE = "regexp_extract({f}, '(\\d{{4}}-\\d{{2}}-\\d{{2}})[/\\\\][^/\\\\]*$', 1)::DATE"


def delivery_day_sql(file_column: str) -> str:
    """SQL for the delivery day of a file: the date folder it sits in."""
    return _DAY_OF_FILE.format(f=file_column)


def _event_date(col: Column) -> str:
    expr = f'"{col.name}"'
    if col.type == "TIMESTAMPTZ":  # the UTC calendar day, whatever the session's zone
        expr = f"timezone('UTC', {expr})"
    return f"CAST({expr} AS DATE)"


def _faults(spec: SourceSpec) -> list[tuple[str, str, str, str]]:
    """(condition, error_type, column as delivered, reason SQL) over ``_stage``'s columns."""
    out = []
    for col in spec.required:
        out.append(
            (
                f'"{col.name}" IS NULL',
                "missing_required",
                col.source,
                sql_str(f"missing_required: required column {col.source} is empty"),
            )
        )
    day = delivery_day_sql("_source_file")
    keep = f" AND NOT coalesce({spec.future_kept}, false)" if spec.future_kept else ""
    by_name = {c.name: c for c in spec.columns}
    for name in spec.event_times:
        col = by_name[name]
        when = _event_date(col)
        out.append(
            (
                f"{when} > {day} + INTERVAL {FUTURE_TOLERANCE_DAYS} DAY{keep}",
                "future_dated",
                col.source,
                f"'future_dated: {col.source} ' || {when} || ' is ' || "
                f"date_diff('day', {day}, {when}) || ' days after the delivery day ' || {day} "
                "|| ' (an event cannot be dated after the file that carries it)'",
            )
        )
    return out


def fault_condition(spec: SourceSpec) -> str | None:
    """SQL true for a staged row that is a fault (None when the spec defines none)."""
    faults = _faults(spec)
    return " OR ".join(f"({c})" for c, *_ in faults) if faults else None


def quarantine_rows(conn: duckdb.DuckDBPyConnection, spec: SourceSpec) -> int:
    """Move faulty rows from ``_stage`` to ``_stage_rejects``; returns how many moved."""
    faults = _faults(spec)
    if not faults:
        return 0
    kind = "CASE " + " ".join(f"WHEN {c} THEN '{t}'" for c, t, _, _ in faults) + " END"
    column = "CASE " + " ".join(f"WHEN {c} THEN {sql_str(s)}" for c, _, s, _ in faults) + " END"
    reason = "CASE " + " ".join(f"WHEN {c} THEN {r}" for c, _, _, r in faults) + " END"
    condition = fault_condition(spec)
    moved = conn.execute(
        f"""
        INSERT INTO _stage_rejects
        SELECT _source_file, _source_line, {column}, {kind}, {reason}, NULL
        FROM _stage WHERE {condition}
        """
    ).fetchall()[0][0]
    if moved:
        conn.execute(f"DELETE FROM _stage WHERE {condition}")
    return moved


@dataclass
class Redelivery:
    rows: int = 0
    examples: list[dict[str, Any]] | None = None


def redelivered(
    conn: duckdb.DuckDBPyConnection, spec: SourceSpec, start: date, end: date
) -> Redelivery:
    """Rows of ``[start, end]`` whose key a delivery of the week before already carried.

    A re-sent export of a previous day loads its rows again under the new day; dbt keeps
    one of each, so the marts stay right, but the repeat means the export job misfired.
    """
    if not spec.partitioned or not spec.key:
        return Redelivery()
    table = f'raw."{spec.entity}"'
    same = " AND ".join(f'p."{k}" = c."{k}"' for k in spec.key)
    earlier = (
        f"FROM {table} p WHERE {same} AND p._partition_date < c._partition_date "
        f"AND p._partition_date >= c._partition_date - INTERVAL {REDELIVERY_LOOKBACK_DAYS} DAY"
    )
    repeated = (
        f"FROM {table} c WHERE c._partition_date BETWEEN ? AND ? AND EXISTS (SELECT 1 {earlier})"
    )
    rows = conn.execute(f"SELECT count(*) {repeated}", [start, end]).fetchall()[0][0]
    if not rows:
        return Redelivery()
    keys = ", ".join(f'c."{k}"' for k in spec.key)
    examples = conn.execute(
        f"""
        SELECT c._source_file, c._source_line, c._partition_date,
               (SELECT min(p._partition_date) {earlier}) AS first_day, {keys}
        {repeated}
        ORDER BY c._partition_date, c._source_file, c._source_line NULLS FIRST LIMIT 5
        """,
        [start, end],
    ).fetchall()
    return Redelivery(
        rows,
        [
            {
                "file": f,
                "line": line,
                "delivered": str(d),
                "first_delivered": str(first),
                "key": ", ".join(f"{k}={v}" for k, v in zip(spec.key, values, strict=True)),
            }
            for f, line, d, first, *values in examples
        ],
    )
