"""The temporary stage of one load and its write into ``raw``.

The readers (``csv_files``, ``jsonl_files``) fill ``_stage`` (typed rows, with file and
line) and ``_stage_rejects``. This module creates those tables, names rows read from a
UTF-8 copy by the file as delivered, and then, in one transaction, replaces the range's
rows and rejects in ``raw``/``ingest`` and logs the load, so re-loading a day replaces
exactly that day. A newer spec's columns are added to an older raw table, not refused.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from dagster_project.ingest import faults, phone_cache, tables
from dagster_project.ingest.landing import FileFault
from dagster_project.ingest.specs import SourceSpec, duckdb_type

RAW = tables.RAW
META = tables.META


def create(conn: duckdb.DuckDBPyConnection, spec: SourceSpec) -> None:
    """Empty ``_stage`` (the spec's typed columns plus file and line) and ``_stage_rejects``."""
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE _stage AS SELECT "
        + ", ".join(f'NULL::{duckdb_type(c.type)} AS "{c.name}"' for c in spec.columns)
        + ", NULL::VARCHAR AS _source_file, NULL::BIGINT AS _source_line LIMIT 0"
    )
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE _stage_rejects (source_file VARCHAR, line BIGINT, "
        "column_name VARCHAR, error_type VARCHAR, reason VARCHAR, raw_line VARCHAR)"
    )


def restore_paths(conn: duckdb.DuckDBPyConnection, origin: dict[str, str]) -> None:
    """Rows and rejects read from a UTF-8 copy name the file as it was delivered."""
    if not origin:
        return
    conn.execute("CREATE OR REPLACE TEMP TABLE _origin (copy VARCHAR, delivered VARCHAR)")
    conn.executemany("INSERT INTO _origin VALUES (?, ?)", [list(kv) for kv in origin.items()])
    conn.execute(
        "UPDATE _stage SET _source_file = o.delivered FROM _origin o "
        "WHERE _stage._source_file = o.copy"
    )
    conn.execute(
        "UPDATE _stage_rejects SET source_file = o.delivered FROM _origin o "
        "WHERE _stage_rejects.source_file = o.copy"
    )
    conn.execute("DROP TABLE _origin")


def reject_files(conn: duckdb.DuckDBPyConnection, quarantined: list[FileFault]) -> None:
    """One reject per file quarantined whole (no line: none of it was read)."""
    if quarantined:
        conn.executemany(
            "INSERT INTO _stage_rejects VALUES (?, NULL, NULL, ?, ?, ?)",
            [[f.path, f.error_type, f.reason, f.first_line] for f in quarantined],
        )


def partition_of(spec: SourceSpec, file_column: str) -> str:
    """SQL for a row's delivery day: the date folder its file sits in."""
    return faults.delivery_day_sql(file_column) if spec.partitioned else "NULL::DATE"


def final_select(spec: SourceSpec, default_region: str) -> str:
    """The stage's rows as the raw table holds them: typed, phones parsed, e-mails folded."""
    cols = [f's."{c.name}"' for c in spec.columns]
    cols += [f'{sql} AS "{name}"' for name, sql in spec.derived]
    phone_cols, joins = phone_cache.joined_columns(spec, default_region)
    cols += phone_cols
    for e in spec.emails:
        cols.append(
            f"nullif(lower(trim({phone_cache.column_sql(spec, e)})), '') AS \"{e}_normalized\""
        )
    cols += [
        "s._source_file",
        "s._source_line",
        f"{partition_of(spec, 's._source_file')} AS _partition_date",
        "current_timestamp::TIMESTAMP AS _loaded_at",
    ]
    return f"SELECT {', '.join(cols)} FROM _stage s {' '.join(joins)}"


def ensure_raw_table(conn: duckdb.DuckDBPyConnection, spec: SourceSpec, select: str) -> None:
    table = f'{RAW}."{spec.entity}"'
    if not tables.table_exists(conn, RAW, spec.entity):
        conn.execute(f"CREATE TABLE {table} AS {select} LIMIT 0")
        return
    # A newer spec may add columns; add them rather than fail an old warehouse.
    have = {
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [RAW, spec.entity],
        ).fetchall()
    }
    described = conn.execute(f"DESCRIBE {select} LIMIT 0").fetchall()
    for name, col_type, *_ in described:
        if name not in have:
            conn.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" {col_type}')


def replace_range(
    conn: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    start: date | None,
    end: date | None,
    select: str,
    log_row,
) -> tuple[int, int]:
    """Replace the range's rows and rejects with the stage's, in one transaction.

    ``log_row(rows, rejects)`` gives the ``ingest.load_log`` row, written in the same
    transaction. Returns (rows loaded, rows rejected).
    """
    table = f'{RAW}."{spec.entity}"'
    with tables.transaction(conn):
        if spec.partitioned:
            conn.execute(f"DELETE FROM {table} WHERE _partition_date BETWEEN ? AND ?", [start, end])
            conn.execute(
                f"DELETE FROM {META}.rejects WHERE entity = ? AND partition_date BETWEEN ? AND ?",
                [spec.entity, start, end],
            )
        else:
            conn.execute(f"DELETE FROM {table}")
            conn.execute(f"DELETE FROM {META}.rejects WHERE entity = ?", [spec.entity])
        conn.execute(f"INSERT INTO {table} BY NAME {select}")
        conn.execute(
            f"""
            INSERT INTO {META}.rejects
            SELECT ?, {partition_of(spec, "source_file")}, source_file, line, column_name,
                   error_type, reason, raw_line, current_timestamp::TIMESTAMP
            FROM _stage_rejects
            """,
            [spec.entity],
        )
        rows = conn.execute("SELECT count(*) FROM _stage").fetchone()[0]
        rejected = conn.execute("SELECT count(*) FROM _stage_rejects").fetchone()[0]
        conn.execute(
            f"INSERT INTO {META}.load_log "
            "VALUES (?, ?, ?, ?, ?, ?, ?, current_timestamp::TIMESTAMP)",
            log_row(rows, rejected),
        )
    return rows, rejected


def summarize(
    conn: duckdb.DuckDBPyConnection, spec: SourceSpec, landing_root: Path
) -> tuple[dict[str, int], list[dict[str, Any]], dict[str, int]]:
    """(rejects by reason, the first five rejects, rows per delivery day); drops the stage."""
    by_reason = dict(
        conn.execute(
            "SELECT error_type || coalesce(' (' || column_name || ')', ''), count(*) "
            "FROM _stage_rejects GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    )
    preview = conn.execute(
        "SELECT source_file, line, column_name, reason FROM _stage_rejects "
        "ORDER BY source_file, line LIMIT 5"
    ).fetchall()
    first = [
        {"file": os.path.relpath(f, landing_root), "line": ln, "column": c, "reason": r}
        for f, ln, c, r in preview
    ]
    per_day: dict[str, int] = {}
    if spec.partitioned:
        per_day = {
            str(d): n
            for d, n in conn.execute(
                f"""SELECT {partition_of(spec, "s._source_file")} AS d,
                           count(*) FROM _stage s GROUP BY 1 ORDER BY 1"""
            ).fetchall()
        }
    conn.execute("DROP TABLE IF EXISTS _stage")
    conn.execute("DROP TABLE IF EXISTS _stage_rejects")
    return by_reason, first, per_day
