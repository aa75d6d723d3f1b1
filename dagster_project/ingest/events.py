"""Outcome events: the webhook receiver's landing log -> ``raw.sms_events``.

The receiver appends one JSON line per accepted callback to
``events-YYYY-MM-DD.jsonl`` (docs/outcomes.md has the format). This module
reads what is new since the last load, by byte offset per file, and inserts it:

* lines are read with the receiver's own reader (``webhooks.eventlog.read_new``):
  only complete lines; a torn last line of a receiver crash was never
  acknowledged and is left alone;
* a duplicate callback has the same ``event_id`` and is dropped on insert, so
  loading twice, or a provider retrying, changes nothing;
* a line that is not JSON, or lacks a required field, goes to
  ``ingest.rejects`` with its file, line and reason; nothing is lost silently;
* the events and the new offsets are committed in one transaction: a crash
  mid-load re-reads the same lines next time and the key drops the repeats.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from dagster_project.contracts.consent_keywords import ACTIONS
from dagster_project.contracts.eventlog import Position, read_new
from dagster_project.contracts.events import EVENT_KEYS, EVENT_TYPES, SOURCES, STATUSES
from dagster_project.ingest.tables import EVENT_OFFSETS as OFFSETS
from dagster_project.ingest.tables import EVENTS_TABLE as TABLE
from dagster_project.ingest.tables import ensure_tables, insert_rejects, transaction

ENTITY = "sms_events"
FILE_GLOB = "events-*.jsonl"  # the receiver's files (webhooks.eventlog)

COLUMNS = list(EVENT_KEYS)
ALLOWED = {"source": SOURCES, "event_type": EVENT_TYPES, "status": STATUSES, "action": ACTIONS}


@dataclass
class EventLoadResult:
    files: list[str] = field(default_factory=list)
    lines_read: int = 0
    loaded: int = 0
    duplicates: int = 0
    rejected: int = 0
    read_by_type: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _timestamp(value, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} is not a string")
    moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"{name} has no UTC offset: {value!r}")
    return moment.astimezone(dt.UTC).isoformat()


def to_row(event: dict) -> dict:
    """One parsed landing-log event as a row of ``raw.sms_events``; ValueError says why not."""
    for name, allowed in ALLOWED.items():
        if event.get(name) is not None and event[name] not in allowed:
            raise ValueError(f"{name} {event[name]!r} is not one of {sorted(allowed)}")
    row = {}
    for name in COLUMNS:
        value = event.get(name)
        row[name] = value if value is None or isinstance(value, str) else str(value)
    row["received_at"] = _timestamp(event["received_at"], "received_at")
    row["occurred_at"] = _timestamp(event.get("occurred_at"), "occurred_at")
    return row


def load_new(conn: duckdb.DuckDBPyConnection, directory: Path) -> EventLoadResult:
    """Load every complete line not loaded before, from every file of the landing log."""
    started = time.perf_counter()
    ensure_tables(conn)
    result = EventLoadResult()
    if not directory.exists():
        return result
    known = conn.execute(f"SELECT file, byte_offset, lines FROM {OFFSETS}").fetchall()
    done = {f: Position(o, n) for f, o, n in known}
    landed, after = read_new(directory, done)
    rows, rejects = [], []
    now = dt.datetime.now(dt.UTC)
    for line in landed:
        try:
            if line.error:
                raise ValueError(line.error)
            row = to_row(line.event)
        except ValueError as exc:
            rejects.append((line.file, line.line, str(exc), line.raw[:2000]))
            continue
        rows.append({**row, "_source_file": line.file, "_source_line": line.line})
    offsets = [(f, p.byte, p.line) for f, p in after.items() if done.get(f) != p]
    result.files = sorted({line.file for line in landed})
    result.lines_read = len(landed)
    if not offsets:
        result.seconds = time.perf_counter() - started
        return result

    frame = pd.DataFrame(rows, columns=[*COLUMNS, "_source_file", "_source_line"])
    frame = frame.drop_duplicates("event_id")  # the same callback twice in one read
    with transaction(conn):
        before = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchall()[0][0]
        if len(frame):
            conn.register("_events", frame)
            conn.execute(
                f"""
                INSERT INTO {TABLE}
                SELECT {", ".join(COLUMNS[:1])},
                    CAST(received_at AS TIMESTAMPTZ), CAST(occurred_at AS TIMESTAMPTZ),
                    {", ".join(COLUMNS[3:])}, _source_file, _source_line, ?
                FROM _events
                ON CONFLICT (event_id) DO NOTHING
                """,
                [now],
            )
            conn.unregister("_events")
        after = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchall()[0][0]
        insert_rejects(
            conn,
            (
                (ENTITY, None, f, n, None, "malformed_event", reason, raw)
                for f, n, reason, raw in rejects
            ),
            now.replace(tzinfo=None),
        )
        conn.executemany(
            f"INSERT INTO {OFFSETS} VALUES (?, ?, ?, ?) ON CONFLICT (file) DO UPDATE SET "
            "byte_offset = excluded.byte_offset, lines = excluded.lines, "
            "updated_at = excluded.updated_at",
            [(f, o, n, now) for f, o, n in offsets],
        )
    result.loaded = after - before
    result.duplicates = len(rows) - result.loaded
    result.rejected = len(rejects)
    loaded_types = frame["event_type"].value_counts().to_dict() if len(frame) else {}
    result.read_by_type = {k: int(v) for k, v in loaded_types.items()}
    result.seconds = time.perf_counter() - started
    return result
