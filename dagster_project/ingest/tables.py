"""The tables ingest writes: ``raw`` (landed rows, outcome events) and ``ingest`` (rejects,
phone cache, load log, event-log offsets). One module, imported by the file loader
(``loader``, ``stage``, ``phone_cache``) and the event loader (``events``), so neither
imports the other; both write through its ``transaction``.

``ensure_tables`` creates them all; it runs before any load, so the tables exist from
the first load on (dbt's consent views read ``raw.sms_events`` even before any event).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import duckdb

RAW = "raw"
META = "ingest"
EVENTS_TABLE = f"{RAW}.sms_events"
EVENT_OFFSETS = f"{META}.event_log_offsets"

# The columns of ingest.rejects, in table order; every loader writes rows in this shape.
REJECT_COLUMNS = (
    "entity",
    "partition_date",
    "source_file",
    "line",
    "column_name",
    "error_type",
    "reason",
    "raw_line",
    "rejected_at",
)

EVENTS_DDL = f"""
CREATE TABLE IF NOT EXISTS {EVENTS_TABLE} (
    event_id VARCHAR PRIMARY KEY,
    received_at TIMESTAMPTZ NOT NULL,
    occurred_at TIMESTAMPTZ,
    source VARCHAR NOT NULL,
    event_type VARCHAR NOT NULL,
    message_key VARCHAR,
    provider_message_id VARCHAR,
    status VARCHAR,
    provider_status VARCHAR,
    error_code VARCHAR,
    phone VARCHAR,
    our_number VARCHAR,
    text VARCHAR,
    keyword VARCHAR,
    action VARCHAR,
    language VARCHAR,
    reply_text VARCHAR,
    token VARCHAR,
    target_url VARCHAR,
    user_agent VARCHAR,
    _source_file VARCHAR NOT NULL,
    _source_line BIGINT NOT NULL,
    _loaded_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS {EVENT_OFFSETS} (
    file VARCHAR PRIMARY KEY,
    byte_offset BIGINT NOT NULL,
    lines BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
"""


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """Create every ``raw``/``ingest`` table ingest owns (idempotent)."""
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {RAW}")
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {META}")
    conn.execute(EVENTS_DDL)
    conn.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {META}.rejects (
            entity VARCHAR NOT NULL,
            partition_date DATE,
            source_file VARCHAR NOT NULL,
            line BIGINT,
            column_name VARCHAR,
            error_type VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            raw_line VARCHAR,
            rejected_at TIMESTAMP NOT NULL
        )"""
    )
    conn.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {META}.phone_cache (
            key VARCHAR NOT NULL,
            default_region VARCHAR NOT NULL,
            e164 VARCHAR,
            is_valid BOOLEAN NOT NULL,
            region VARCHAR,
            number_type VARCHAR,
            error VARCHAR
        )"""
    )
    conn.execute(
        f"""
        CREATE TABLE IF NOT EXISTS {META}.load_log (
            entity VARCHAR NOT NULL,
            partition_start DATE,
            partition_end DATE,
            files INTEGER NOT NULL,
            rows_loaded BIGINT NOT NULL,
            rows_rejected BIGINT NOT NULL,
            seconds DOUBLE NOT NULL,
            loaded_at TIMESTAMP NOT NULL
        )"""
    )


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One transaction: committed when the block ends, rolled back when anything raises
    (a load replaces a range whole or not at all)."""
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def table_exists(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        conn.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def insert_rejects(
    conn: duckdb.DuckDBPyConnection, rows: Iterable[Sequence[object]], rejected_at: datetime
) -> None:
    """Append rejects, each ``(entity, partition_date, source_file, line, column_name,
    error_type, reason, raw_line)``, stamped ``rejected_at``."""
    batch = [(*row, rejected_at) for row in rows]
    if batch:
        conn.executemany(
            f"INSERT INTO {META}.rejects ({', '.join(REJECT_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in REJECT_COLUMNS)})",
            batch,
        )
