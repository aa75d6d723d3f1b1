"""The warehouse's copy of the PostgreSQL store's tables, refreshed with what changed since
the last sync (never the whole table).

Change capture, in PostgreSQL (``schema.capture``): a trigger stamps every inserted or
updated row with the transaction that wrote it (``_xid``, a 64-bit ``xid8``), and a
delete leaves a tombstone (``sms._deleted``) stamped the same way. A sync reads, in one
repeatable-read snapshot, the rows and tombstones stamped in ``[last, horizon)``, where
``horizon`` is the snapshot's ``xmin``: every transaction below it has ended, so nothing
with a smaller stamp can still appear, whatever order the transactions committed in. The warehouse
applies the tombstones, replaces the changed rows and records ``horizon`` in one
transaction, so a crash between the two stores repeats a sync and never skips one.
Tombstones below the horizon the warehouse has already recorded are deleted.

Rows travel as CSV (``COPY … TO STDOUT``, then DuckDB's ``read_csv`` with the warehouse
table's own column types): no row passes through Python. An empty string and a NULL
stay apart (``FORCE_QUOTE``; ``allow_quoted_nulls=false``).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from dagster_project.opstore import schema

# The tables the warehouse copies, with their keys, in the order a sync applies them.
TABLES: dict[str, tuple[str, ...]] = {
    "ledger": ("message_key",),
    "links": ("token",),
    "journey_entries": ("journey_id", "customer_id", "entry_key"),
}


@dataclass
class SyncReport:
    through: int = 0  # the horizon recorded: every change below it is in the warehouse
    since: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    deleted: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def copied(self) -> int:
        return sum(self.rows.values())


def _warehouse_state(duck) -> int:
    duck.execute("CREATE SCHEMA IF NOT EXISTS sms")
    duck.execute(
        "CREATE TABLE IF NOT EXISTS sms._sync (store VARCHAR PRIMARY KEY, through_xid UBIGINT)"
    )
    row = duck.execute("SELECT through_xid FROM sms._sync WHERE store = 'postgres'").fetchone()
    return int(row[0]) if row else 0


def to_warehouse(store, duck, *, tables: Sequence[str] | None = None) -> SyncReport:
    """Copy into the warehouse (``duck``) what changed in ``store`` since the last sync."""
    began = time.monotonic()
    # The warehouse tables exist with the embedded store's schema (the dbt sources' shape).
    schema.ensure_journeys(duck)
    since = _warehouse_state(duck)
    report = SyncReport(since=since)
    names = list(tables or TABLES)
    raw = store.raw
    with tempfile.TemporaryDirectory(prefix="sms-sync-") as scratch:
        with raw.transaction():
            raw.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            horizon = int(
                raw.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text").fetchone()[0]
            )
            window = "_xid >= %s::text::xid8 AND _xid < %s::text::xid8"
            files, tombstones = {}, {}
            for table in names:
                present = {
                    r[0]
                    for r in raw.execute(
                        "SELECT column_name FROM information_schema.columns "
                        "WHERE table_schema = 'sms' AND table_name = %s",
                        [table],
                    ).fetchall()
                }
                if not present:
                    continue
                columns = [
                    (name, kind)
                    for name, kind in duck.execute(
                        "SELECT column_name, data_type FROM information_schema.columns "
                        "WHERE table_schema = 'sms' AND table_name = ? ORDER BY ordinal_position",
                        [table],
                    ).fetchall()
                    if name in present
                ]
                path = os.path.join(scratch, f"{table}.csv")
                select = (
                    f"SELECT {', '.join(n for n, _ in columns)} FROM sms.{table} WHERE {window}"
                )
                copy_sql = (
                    f"COPY ({_inline(raw, select, [str(since), str(horizon)])}) TO STDOUT "
                    f"(FORMAT csv, FORCE_QUOTE *)"
                )
                with open(path, "wb") as out, raw.cursor().copy(copy_sql) as copy:
                    for chunk in copy:
                        out.write(chunk)
                files[table] = (path, columns)
                key = TABLES[table]
                rows = raw.execute(
                    f"SELECT {', '.join('key ->> %s' for _ in key)} FROM sms._deleted "
                    f"WHERE table_name = %s AND {window}",
                    [*key, table, str(since), str(horizon)],
                ).fetchall()
                tombstones[table] = rows
        duck.execute("BEGIN TRANSACTION")
        try:
            for table, (path, columns) in files.items():
                key = TABLES[table]
                report.rows[table], report.deleted[table] = _apply(
                    duck, table, key, path, columns, tombstones[table]
                )
            duck.execute("INSERT OR REPLACE INTO sms._sync VALUES ('postgres', ?)", [horizon])
            duck.execute("COMMIT")
        except BaseException:
            duck.execute("ROLLBACK")
            raise
    # The warehouse holds everything below ``since``: those tombstones are spent.
    raw.execute("DELETE FROM sms._deleted WHERE _xid < %s::text::xid8", [str(since)])
    report.through = horizon
    report.seconds = time.monotonic() - began
    return report


def _inline(raw, sql: str, params: Sequence) -> str:
    """COPY takes no parameters: bind them client-side (psycopg's quoting)."""
    from psycopg import sql as pgsql

    return pgsql.SQL(sql.replace("%s", "{}")).format(*map(pgsql.Literal, params)).as_string(raw)


def _csv_options(columns) -> str:
    """DuckDB's reader set to exactly what PostgreSQL's CSV COPY wrote."""
    types = ", ".join(f"'{n}': '{k}'" for n, k in columns)
    return (
        f"header = false, columns = {{{types}}}, allow_quoted_nulls = false, "
        "quote = '\"', escape = '\"', delim = ',', auto_detect = false"
    )


def _apply(duck, table: str, key, path: str, columns, tombstones) -> tuple[int, int]:
    """Tombstoned and changed keys out, changed rows in: ``sms.<table>`` as the store has
    it. The CSV is read once, into a temporary table. Returns (rows copied, deleted)."""
    import pandas as pd

    names = ", ".join(n for n, _ in columns)
    on = " AND ".join(f"t.{k} = c.{k}" for k in key)
    duck.execute(
        "CREATE OR REPLACE TEMP TABLE _changes AS "
        f"SELECT * FROM read_csv(?, {_csv_options(columns)})",
        [path],
    )
    try:
        changed = duck.execute("SELECT count(*) FROM _changes").fetchall()[0][0]
        deleted = 0
        if tombstones:
            duck.register("_tombstones", pd.DataFrame(tombstones, columns=list(key), dtype=object))
            try:
                deleted = duck.execute(
                    f"DELETE FROM sms.{table} AS t USING _tombstones AS c WHERE {on}"
                ).fetchall()[0][0]
            finally:
                duck.unregister("_tombstones")
        if changed:
            duck.execute(f"DELETE FROM sms.{table} AS t USING _changes AS c WHERE {on}")
            duck.execute(f"INSERT INTO sms.{table} ({names}) SELECT {names} FROM _changes")
        return changed, deleted
    finally:
        duck.execute("DROP TABLE IF EXISTS _changes")
