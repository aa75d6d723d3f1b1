"""Durable journey state: one row per (journey, customer, entry) in ``sms.journey_entries``.

The row holds where the entry stands (the next step to run, when it is due, a wait for an
event in progress), its arm, how it ended, and the history of the steps taken. It
lives in the same store as the send ledger, and an advance writes both in one
transaction (``save``): after a crash at any moment either the new state and the
ledger rows of the steps it reached are there together, or neither is, and a re-run
recomputes the same (the ledger key of a step's message is fixed by journey,
customer, entry and step, so it can never be written twice).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import pandas as pd

from dagster_project.activation import ledger
from dagster_project.journeys.engine import ACTIVE, EXITED, Entry, Visit
from dagster_project.opstore import schema

COLUMNS = [
    "journey_id", "customer_id", "entry_key", "entered_at", "arm", "status", "position",
    "next_step", "due_at", "waiting_since", "exit_reason", "history", "anchor",
    "updated_at", "run_id",
]  # fmt: skip


def ensure(conn) -> None:
    """The journey state's table and the ledger's, on either store."""
    schema.ensure_journeys(conn)


def _naive(moment: dt.datetime | None):
    return None if moment is None else moment.astimezone(dt.UTC).replace(tzinfo=None)


def _aware(value) -> dt.datetime | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, pd.Timestamp):
        value = value.to_pydatetime()
    return value.replace(tzinfo=dt.UTC)


def _json_default(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value)
    return str(value)


def to_row(entry: Entry, steps: Sequence[str], now: dt.datetime, run_id: str | None) -> dict:
    return {
        "journey_id": entry.journey_id,
        "customer_id": entry.customer_id,
        "entry_key": entry.entry_key,
        "entered_at": _naive(entry.entered_at),
        "arm": entry.arm,
        "status": entry.status,
        "position": entry.position,
        "next_step": steps[entry.position] if entry.position < len(steps) else None,
        "due_at": _naive(entry.due_at),
        "waiting_since": _naive(entry.waiting_since),
        "exit_reason": entry.exit_reason,
        "history": json.dumps(
            [{"step": v.step, "at": v.at.isoformat(), "outcome": v.outcome} for v in entry.history]
        ),
        "anchor": json.dumps(dict(entry.anchor), default=_json_default, sort_keys=True),
        "updated_at": _naive(now),
        "run_id": run_id,
    }


def from_row(row: dict) -> Entry:
    return Entry(
        journey_id=row["journey_id"],
        customer_id=row["customer_id"],
        entry_key=row["entry_key"],
        entered_at=_aware(row["entered_at"]),
        arm=row["arm"],
        position=int(row["position"]),
        due_at=_aware(row["due_at"]),
        waiting_since=_aware(row["waiting_since"]),
        status=row["status"],
        exit_reason=row["exit_reason"],
        history=tuple(
            Visit(v["step"], dt.datetime.fromisoformat(v["at"]), v["outcome"])
            for v in json.loads(row["history"])
        ),
        anchor=json.loads(row["anchor"]),
    )


def entries(conn, journey_id: str, *, customers: Sequence[str] | None = None) -> list[Entry]:
    """The journey's active entries; with ``customers``, every entry of those customers,
    ended ones included (the re-entry rule reads them). Ended entries of everyone else are
    not read: they pile up over the months and no run needs them."""
    if customers is None:
        where, params = "status = ?", [ACTIVE]
    else:
        conn.register(
            "_entry_customers", pd.DataFrame({"customer_id": list(customers)}, dtype=object)
        )
        where, params = "customer_id IN (SELECT customer_id FROM _entry_customers)", []
    try:
        frame = conn.execute(
            f"SELECT {', '.join(COLUMNS)} FROM sms.journey_entries "
            f"WHERE journey_id = ? AND {where} ORDER BY entered_at, customer_id, entry_key",
            [journey_id, *params],
        ).df()
    finally:
        if customers is not None:
            conn.unregister("_entry_customers")
    return [from_row(r) for r in frame.to_dict("records")]


def latest_active_entry(conn, journey_ids: Sequence[str]) -> dict[str, dt.datetime]:
    """Per customer, when they last entered one of these journeys they are still in."""
    if not journey_ids:
        return {}
    marks = ", ".join("?" for _ in journey_ids)
    rows = conn.execute(
        "SELECT customer_id, max(entered_at) FROM sms.journey_entries "
        f"WHERE status = ? AND journey_id IN ({marks}) GROUP BY 1",
        [ACTIVE, *journey_ids],
    ).fetchall()
    return {c: at.replace(tzinfo=dt.UTC) for c, at in rows}


def save(
    conn,
    changed: pd.DataFrame,
    rows: pd.DataFrame,
    links: pd.DataFrame,
    displaced: Sequence[str] = (),
    winner: str = "",
) -> dict[str, int]:
    """The changed entries, their new ledger rows and links, and the lower-priority messages
    they displaced, in one transaction. An entry that ended by an exit takes its messages
    not yet sent with it (a reminder waiting for the window is not sent once the invoice
    is paid or the cart bought): they are skipped with the exit's reason.

    A ledger row whose key exists already is kept as it is (``ON CONFLICT DO NOTHING``):
    a step's message is written once, whatever re-runs.
    """
    conn.execute("BEGIN TRANSACTION")
    try:
        if len(changed):
            conn.register("_entries", changed[COLUMNS])
            conn.execute(
                "DELETE FROM sms.journey_entries AS e USING _entries AS n "
                "WHERE e.journey_id = n.journey_id AND e.customer_id = n.customer_id "
                "AND e.entry_key = n.entry_key"
            )
            conn.execute(
                f"INSERT INTO sms.journey_entries ({', '.join(COLUMNS)}) SELECT * FROM _entries"
            )
            conn.unregister("_entries")
        before = conn.execute("SELECT count(*) FROM sms.ledger").fetchall()[0][0]
        if len(rows):
            conn.register("_journey_rows", rows[ledger.COLUMNS])
            conn.execute(
                f"INSERT INTO sms.ledger ({', '.join(ledger.COLUMNS)}) "
                "SELECT * FROM _journey_rows ON CONFLICT (message_key) DO NOTHING"
            )
            conn.unregister("_journey_rows")
        if len(links):
            conn.register("_journey_links", links)
            conn.execute(
                "INSERT INTO sms.links SELECT token, message_key, target_url, now() "
                "FROM _journey_links ON CONFLICT (token) DO NOTHING"
            )
            conn.unregister("_journey_links")
        written = conn.execute("SELECT count(*) FROM sms.ledger").fetchall()[0][0] - before
        gave_way = ledger.give_way(conn, displaced, f"journey {winner}")
        withdrawn = _withdraw(conn, changed)
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    return {
        "entries": len(changed),
        "messages": written,
        "displaced": gave_way,
        "withdrawn": withdrawn,
    }


def _withdraw(conn, changed: pd.DataFrame) -> int:
    """Messages not yet sent of the entries that exited: skipped, step journey_exit."""
    exited = changed[changed["status"] == EXITED] if len(changed) else changed
    if not len(exited):
        return 0
    conn.register("_exited", exited[["journey_id", "customer_id", "entry_key", "exit_reason"]])
    try:
        return conn.execute(
            "UPDATE sms.ledger SET state = 'skipped', step = 'journey_exit', "
            "reason = 'journey exit: ' || x.exit_reason FROM _exited AS x "
            "WHERE sms.ledger.campaign_id = x.journey_id "
            "AND sms.ledger.customer_id = x.customer_id "
            f"AND sms.ledger.journey_entry = x.entry_key AND sms.ledger.state IN {ledger.SENDABLE}"
        ).fetchall()[0][0]
    finally:
        conn.unregister("_exited")
