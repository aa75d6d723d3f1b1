"""Dispatch at the edge of a window, on a hand-made ledger in a real DuckDB file.

Sandbox gateway (a real httpx transport writing files), the real send-time re-check
and the real rules file. What is asserted is on the ledger and in the sandbox outbox:
a message that cannot leave before its recipient's window closes is deferred to the
next window, never sent late; an expiry reported by the provider lands on the ledger.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from dagster_project.activation import ledger
from dagster_project.activation.campaigns import Campaign, load_policy
from dagster_project.activation.dispatch import dispatch
from dagster_project.activation.gateway import GatewayResource
from dagster_project.contracts.eventlog import EventLog
from dagster_project.contracts.events import status_event
from dagster_project.ingest import events as event_table

REPO = Path(__file__).resolve().parents[2]
POLICY = load_policy(REPO / "campaigns" / "settings" / "policy.yml")
CAMPAIGN = Campaign.model_validate(dict(
    id="edge", name="edge", segments=["lapsed"], templates={"en": "hi"},
    start_date=dt.date(2026, 1, 1), sender_ids={"default": "Shop"},
    send_window={"start": "09:00", "end": "20:00"},
))  # fmt: skip
# 19:59:57 in Berlin: three seconds of window left.
NOW = dt.datetime(2026, 11, 23, 18, 59, 57, tzinfo=dt.UTC)


def _ledger(conn, n: int) -> list[str]:
    ledger.ensure(conn)
    rows = []
    for i in range(n):
        key = ledger.message_key("edge", f"C{i}", NOW.date(), "A")
        rows.append({
            "message_key": key, "campaign_id": "edge", "plan_day": NOW.date(),
            "customer_id": f"C{i}", "variant": "A", "kind": "marketing", "state": "planned",
            "step": "send_window", "reason": "window open", "phone_e164": f"+491511234{i:04d}",
            "time_zone": "Europe/Berlin", "country": "DE", "sender": "Shop", "language": "en",
            "body": f"hi {i}", "encoding": "GSM-7", "segments": 1, "cost_usd": 0.01,
            "opt_in_event_id": "e", "opt_in_source": "web_form", "opt_in_text_version": "v1",
            "candidate_zones": "Europe/Berlin", "zone_source": "phone", "send_regions": "DE",
            "scheduled_at": NOW.replace(tzinfo=None), "window_ends_at": None,
            "planned_at": NOW.replace(tzinfo=None), "run_id": None,
        })  # fmt: skip
    import pandas as pd

    frame = pd.DataFrame(rows, columns=ledger.COLUMNS)
    ledger.write_plan(
        conn,
        "edge",
        NOW.date(),
        frame,
        pd.DataFrame(columns=["token", "message_key", "target_url"]),
    )
    # every phone opted in and unsuppressed, through the view dispatch reads
    conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
    conn.execute(
        "CREATE OR REPLACE VIEW marts.dim_sms_reachability AS SELECT phone_e164, "
        "'opted_in' AS consent_state, NULL::VARCHAR AS suppression_reasons, "
        "true AS may_receive_marketing, NULL::VARCHAR AS marketing_blocked_step, "
        "NULL::VARCHAR AS marketing_blocked_reason, true AS may_receive_transactional, "
        "NULL::VARCHAR AS transactional_blocked_step, "
        "NULL::VARCHAR AS transactional_blocked_reason FROM sms.ledger"
    )
    return [r["message_key"] for r in rows]


@pytest.fixture
def conn(tmp_path):
    with duckdb.connect(str(tmp_path / "w.duckdb")) as c:
        yield c


def test_what_cannot_leave_before_the_window_closes_is_deferred_not_sent_late(conn, tmp_path):
    keys = _ledger(conn, 6)
    gateway = GatewayResource(kind="sandbox", outbox_dir=str(tmp_path / "box"), rate_per_second=1)
    report = dispatch(conn, gateway, {"edge": CAMPAIGN}, NOW, policy=POLICY,
                      wall_now=dt.datetime.now(dt.UTC))  # fmt: skip
    states = dict(conn.execute("SELECT message_key, state FROM sms.ledger").fetchall())
    sent = {k for k, s in states.items() if s == "accepted"}
    deferred = {k for k, s in states.items() if s == "deferred"}
    assert sent | deferred == set(keys) and 1 <= len(sent) <= 3 and len(deferred) >= 3
    assert report.window_closed_in_queue == len(deferred)
    box = [json.loads(x) for x in (tmp_path / "box" / "outbox.jsonl").read_text().splitlines()]
    assert {m["key"] for m in box} == sent  # nothing deferred reached the gateway
    assert all(1 <= m["valid_for_s"] <= 3 for m in box)
    # Deferred to 09:00 Berlin the next morning, with that window's end kept.
    for scheduled, ends in conn.execute(
        "SELECT scheduled_at, window_ends_at FROM sms.ledger WHERE state = 'deferred'"
    ).fetchall():
        assert scheduled == dt.datetime(2026, 11, 24, 8, 0)
        assert ends == dt.datetime(2026, 11, 24, 19, 0)
    # The sent ones carry the moment they expire at the provider: the window's end.
    for (expires,) in conn.execute(
        "SELECT expires_at FROM sms.ledger WHERE state = 'accepted'"
    ).fetchall():
        assert expires == dt.datetime(2026, 11, 23, 19, 0)
    # The next morning they go, once each.
    morning = dt.datetime(2026, 11, 24, 8, 5, tzinfo=dt.UTC)
    dispatch(conn, GatewayResource(kind="sandbox", outbox_dir=str(tmp_path / "box")),
             {"edge": CAMPAIGN}, morning, policy=POLICY)  # fmt: skip
    box = [json.loads(x) for x in (tmp_path / "box" / "outbox.jsonl").read_text().splitlines()]
    assert sorted(m["key"] for m in box) == sorted(keys)


@pytest.mark.parametrize(
    ("source", "status", "code"),
    [("twilio", "failed", "30036"), ("twilio", "undelivered", "30001"),
     ("kannel", "undelivered", "id:5 sub:001 dlvrd:000 stat:EXPIRED err:000"),
     ("sandbox", "failed", "30036")],
)  # fmt: skip
def test_an_expiry_at_the_provider_is_recorded_on_the_ledger(conn, tmp_path, source, status, code):
    """The receipt goes the real way: the receiver's record, its landing log, ingest."""
    keys = _ledger(conn, 2)
    conn.execute("UPDATE sms.ledger SET state = 'accepted'")
    log = EventLog(tmp_path / "events")
    log.append(status_event(source, message_key=keys[0], provider_message_id="SM1",
                            status=status, provider_status=status, error_code=code))  # fmt: skip
    event_table.load_new(conn, tmp_path / "events")
    assert ledger.record_expiries(conn) == 1
    rows = dict(conn.execute("SELECT message_key, outcome FROM sms.ledger").fetchall())
    assert rows == {keys[0]: "expired", keys[1]: None}
    assert ledger.record_expiries(conn) == 0  # once
