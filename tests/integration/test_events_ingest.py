"""The webhook landing log into raw.sms_events: new lines only, duplicates dropped, bad lines kept."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import pytest

from dagster_project.activation.campaigns import Policy
from dagster_project.activation.dispatch import UnreadOutcomes, dispatch, unread_outcome_bytes
from dagster_project.ingest import events


def _event(event_id: str, **over) -> dict:
    base = {k: None for k in events.COLUMNS}
    base.update(
        event_id=event_id,
        received_at="2026-11-20T10:00:00.123+00:00",
        source="sandbox",
        event_type="status",
        message_key="winback|C1|2026-11-20|A",
        status="delivered",
        phone="+4915112345678",
    )
    base.update(over)
    return base


def _append(path, *records, raw: bytes = b"") -> None:
    with path.open("ab") as f:
        for r in records:
            f.write((json.dumps(r) + "\n").encode())
        f.write(raw)


@pytest.fixture
def conn(tmp_path):
    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield c
    c.close()


def test_loads_new_lines_once_and_drops_duplicate_callbacks(conn, tmp_path):
    log = tmp_path / "events"
    log.mkdir()
    day = log / "events-2026-11-20.jsonl"
    _append(day, _event("a"), _event("b", status="sent"), _event("a"))  # a Twilio retry of "a"

    first = events.load_new(conn, log)
    assert (first.lines_read, first.loaded, first.duplicates, first.rejected) == (3, 2, 1, 0)

    again = events.load_new(conn, log)  # nothing new: nothing read, nothing inserted
    assert (again.lines_read, again.loaded) == (0, 0)

    _append(day, _event("c", event_type="inbound", status=None, text="STOP", action="opt_out"))
    _append(log / "events-2026-11-21.jsonl", _event("a"), _event("d", event_type="click"))
    third = events.load_new(conn, log)
    assert (third.lines_read, third.loaded, third.duplicates) == (3, 2, 1)

    rows = conn.execute(
        "SELECT event_id, _source_file, _source_line, action FROM raw.sms_events ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("a", "events-2026-11-20.jsonl", 1, None),
        ("b", "events-2026-11-20.jsonl", 2, None),
        ("c", "events-2026-11-20.jsonl", 4, "opt_out"),
        ("d", "events-2026-11-21.jsonl", 2, None),
    ]
    assert unread_outcome_bytes(conn, log) == 0


def test_torn_last_line_waits_and_bad_lines_are_rejected_with_file_and_line(conn, tmp_path):
    log = tmp_path / "events"
    log.mkdir()
    day = log / "events-2026-11-20.jsonl"
    torn = json.dumps(_event("t"))[:40].encode()  # a crash mid-write: never acknowledged
    _append(
        day,
        _event("ok"),
        {"event_id": "x", "source": "twilio"},  # no received_at, no event_type
        _event("y", status="read"),  # not a status we know
        _event("z", received_at="2026-11-20T10:00:00"),  # no offset: ambiguous time
        raw=b"{not json\n" + torn,
    )
    result = events.load_new(conn, log)
    assert (result.lines_read, result.loaded, result.rejected) == (5, 1, 4)
    assert unread_outcome_bytes(conn, log) == len(torn)  # the torn tail is not read

    rejects = conn.execute(
        "SELECT source_file, line, reason FROM ingest.rejects WHERE entity = 'sms_events' "
        "ORDER BY line"
    ).fetchall()
    assert [(f, n) for f, n, _ in rejects] == [("events-2026-11-20.jsonl", n) for n in (2, 3, 4, 5)]
    reasons = [r for _, _, r in rejects]
    assert reasons[0].startswith("missing keys: received_at, occurred_at, event_type")
    assert "status 'read'" in reasons[1]
    assert "no UTC offset" in reasons[2]
    assert reasons[3].startswith("not JSON")
    assert conn.execute("SELECT received_at FROM raw.sms_events").fetchall()[0][0].tzinfo


class _NeverCalled:
    def adapter(self):  # pragma: no cover - dispatch must stop before asking
        raise AssertionError("the gateway was reached")


def test_dispatch_refuses_while_events_are_unread(conn, tmp_path):
    log = tmp_path / "events"
    log.mkdir()
    _append(log / "events-2026-11-20.jsonl", _event("stop", event_type="inbound", action="opt_out"))
    with pytest.raises(UnreadOutcomes, match="raw/sms_events"):
        dispatch(conn, _NeverCalled(), {}, dt.datetime.now(dt.UTC), policy=Policy(), events_dir=log)
    events.load_new(conn, log)
    assert unread_outcome_bytes(conn, log) == 0
