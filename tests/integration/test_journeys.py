"""Journeys on generated data: real Dagster, real DuckDB, the sandbox gateway.

A small world is loaded and built once (with its invoices and the journey event
stream); each test copies it and advances the shipped journeys through the
``activation/journeys`` asset, then sends through the dispatch asset. The audits
read the raw consent events and the phone numbers themselves, not the ledger's
own verdicts.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import phonenumbers
import pytest
import yaml
from dagster import AssetSelection, DagsterInstance
from phonenumbers import timezone as phone_timezones

from dagster_project.activation import DISPATCH_SELECTION
from dagster_project.activation.gateway.resource import GatewayResource
from dagster_project.activation.resources import read_book
from dagster_project.definitions import materialize_selection
from dagster_project.journeys.advance import advance_all
from dagster_project.journeys.assets import JOURNEYS_KEY
from dagster_project.settings import REPO_ROOT, campaigns_dir
from dagster_project.warehouse import connection

END = date(2026, 11, 21)
DAY = END + timedelta(days=1)
DAYS = 60
# 15:00 UTC: 16:00 in Berlin, 18:00 in Istanbul, 10:00 in New York; 07:00 in Los Angeles.
NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
JOURNEYS = AssetSelection.assets(JOURNEYS_KEY)


def env(mp, base, journeys=None):
    mp.setenv("SMS_DATA_DIR", str(base))
    mp.setenv("SMS_LANDING_DIR", str(base / "landing"))
    mp.setenv("SMS_WAREHOUSE_PATH", str(base / "warehouse.duckdb"))
    mp.setenv("SMS_JOURNEYS_DIR", str(journeys or REPO_ROOT / "journeys"))


@pytest.fixture(scope="module")
def world(built):
    # the same world as the other module that sends (test_dispatch / test_journeys): built once
    return built(DAY, customers=2500, days=DAYS, seed=8, end=END)


@pytest.fixture
def copy(world, tmp_path, monkeypatch):
    for name in ("landing", "warehouse.duckdb"):
        src = world / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    env(monkeypatch, tmp_path)
    with DagsterInstance.ephemeral() as instance:
        yield tmp_path, instance


def advance(instance, now=NOW, raise_on_error=True):
    return materialize_selection(
        JOURNEYS,
        instance=instance,
        resources={"gateway": GatewayResource()},
        run_config={**QUIET, "ops": {"activation__journeys": {"config": {"now": now.isoformat()}}}},
        raise_on_error=raise_on_error,
    )


def dispatch(instance, now=NOW):
    return materialize_selection(
        DISPATCH_SELECTION,
        instance=instance,
        resources={"gateway": GatewayResource()},
        run_config={**QUIET, "ops": {"activation__dispatch": {"config": {"now": now.isoformat()}}}},
    )


def query(base, sql, params=()):
    with duckdb.connect(str(base / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql, list(params)).fetchall()


def outbox(base) -> list[dict]:
    path = base / "sandbox_gateway" / "outbox.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def metadata(result) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == JOURNEYS_KEY]
    return {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}


def entries(base):
    return query(
        base,
        "SELECT journey_id, customer_id, entry_key, status, position, due_at, arm, history "
        "FROM sms.journey_entries ORDER BY ALL",
    )


def journey_rows(base):
    return query(
        base,
        "SELECT message_key, campaign_id, customer_id, journey_entry, journey_step, state, "
        "kind, phone_e164, opt_in_event_id, scheduled_at, reason FROM sms.ledger "
        "WHERE journey_entry IS NOT NULL ORDER BY message_key",
    )


def latest_raw_consent(base, phone: str, at: datetime) -> str | None:
    """The phone's latest consent event at ``at`` from the raw CRM export and the SMS
    keywords received (independent of the marts)."""
    rows = query(
        base,
        """
        SELECT kind FROM (
            SELECT event_type AS kind, occurred_at AS happened FROM raw.crm_consent
            WHERE phone_e164 = ? AND event_type IN ('opt_in', 'opt_out')
            UNION ALL
            SELECT action, coalesce(occurred_at, received_at) FROM raw.sms_events
            WHERE event_type = 'inbound' AND action IN ('opt_in', 'opt_out') AND phone = ?
        )
        WHERE happened <= ?
        ORDER BY happened DESC LIMIT 1
        """,
        [phone, phone, at],
    )
    return rows[0][0] if rows else None


def test_journeys_enter_write_their_messages_once_and_send_through_the_dispatch(copy):
    base, instance = copy
    first = advance(instance)
    assert first.success
    md = metadata(first)
    assert md["entered"] > 20
    # the sensor's next look: the earliest step still waiting, after this advance
    assert datetime.fromisoformat(md["next_due_at"]) > NOW
    by_journey = Counter(j for j, *_ in entries(base))
    # the triggers the generated world has in the day before NOW
    assert by_journey["abandoned-checkout-series"] > 0
    assert by_journey["payment-reminders"] > 0

    rows = journey_rows(base)
    assert rows, "the advance wrote no journey message"
    for key, journey, customer, entry, step, state, kind, phone, opt_in, *_ in rows:
        assert key == f"{journey}|{customer}|{entry}|{step}"
        assert state in ("planned", "deferred", "held_out", "skipped")
        if kind == "marketing" and state in ("planned", "deferred"):
            assert opt_in is not None  # the consent evidence travels with the message
            assert latest_raw_consent(base, phone, NOW) == "opt_in", (key, phone)
    # Each entry's history names the steps it took; the gates on its messages passed.
    checks = first.get_asset_check_evaluations()
    assert {c.check_name for c in checks} >= {"journey_files", "sms_audience"}
    assert all(c.passed for c in checks)

    # A second advance at the same moment changes nothing and writes nothing.
    before_entries, before_rows = entries(base), journey_rows(base)
    again = advance(instance)
    assert metadata(again)["messages_written"] == 0 and metadata(again)["entered"] == 0
    assert entries(base) == before_entries and journey_rows(base) == before_rows

    # The dispatch sends the due ones; advancing and sending again sends none twice.
    sent = dispatch(instance)
    accepted = sent.asset_materializations_for_node("activation__dispatch")[0].metadata
    planned = [r for r in rows if r[5] == "planned"]
    assert accepted["accepted"].value >= len(planned) > 0
    later = NOW + timedelta(hours=1)
    assert advance(instance, later).success
    dispatch(instance, later)
    keys = [m["key"] for m in outbox(base)]
    assert len(keys) == len(set(keys))
    journey_keys = {r[0] for r in journey_rows(base)}
    assert {k for k in keys if k in journey_keys} >= {r[0] for r in planned}
    held = {r[0] for r in journey_rows(base) if r[5] == "held_out"}
    assert not held & set(keys)


def test_every_journey_message_sent_held_the_window_in_every_zone_of_its_number(copy):
    base, instance = copy
    for hours in (0, 3, 6, 9, 12, 15, 18, 21):  # a day of advances and sends
        moment = NOW + timedelta(hours=hours)
        assert advance(instance, moment).success
        dispatch(instance, moment)
    windows = {j.id: j.send_window for j in read_book(campaigns_dir()).journeys}
    rows = query(
        base,
        "SELECT message_key, campaign_id, phone_e164, sending_at FROM sms.ledger "
        "WHERE state = 'accepted' AND journey_entry IS NOT NULL",
    )
    assert rows
    for key, journey, phone, sent_at in rows:
        zones = set(phone_timezones.time_zones_for_number(phonenumbers.parse(phone))) - {
            "Etc/Unknown"
        }
        assert zones, key
        for zone in zones:
            local = sent_at.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).time()
            assert windows[journey].start <= local < windows[journey].end, (key, zone, local)
    # Quiet hours defer, never drop: no journey message skipped for its window unless its
    # step expires or no moment fits every zone of the number.
    dropped = query(
        base,
        "SELECT reason FROM sms.ledger WHERE journey_entry IS NOT NULL AND state = 'skipped' "
        "AND step = 'send_window'",
    )
    assert all(r.startswith(("step expired", "no moment")) for (r,) in dropped), dropped[:3]
    # Caps across campaigns and journeys: at most one marketing message a local day.
    per_day = query(
        base,
        "SELECT customer_id, scheduled_at::DATE, count(*) FROM sms.ledger "
        "WHERE kind = 'marketing' AND state IN ('accepted', 'planned', 'deferred', 'sending') "
        "GROUP BY 1, 2 HAVING count(*) > 1",
    )
    assert per_day == []


ADVANCE_SCRIPT = """
import datetime as dt, sys
from dagster_project.activation.resources import read_book
from dagster_project.journeys import advance
from dagster_project.settings import campaigns_dir
from dagster_project.warehouse import connect
import time
book = read_book(campaigns_dir())
now = dt.datetime.fromisoformat(sys.argv[1])
with connect() as conn:
    print("start", flush=True)
    began = time.monotonic()
    advance.advance_all(conn, book.journeys, now, book.policy, book.prices)
    print("done", time.monotonic() - began, flush=True)
"""


def test_killed_at_any_moment_and_rerun_the_advance_ends_where_a_clean_run_does(copy, tmp_path):
    """SIGKILL during advances, then a re-run: the same entries and the same ledger rows
    as an advance that was never interrupted; no step's message twice, no entry lost."""
    base, instance = copy
    clean = tmp_path / "clean"
    clean.mkdir()
    shutil.copy(base / "warehouse.duckdb", clean / "warehouse.duckdb")
    # The clean run, in this process (a subprocess would pay the imports once more).
    book = read_book(campaigns_dir())
    began = time.monotonic()
    with connection(clean / "warehouse.duckdb") as conn:
        advance_all(conn, book.journeys, NOW, book.policy, book.prices)
    took = time.monotonic() - began
    cmd = [sys.executable, "-c", ADVANCE_SCRIPT, NOW.isoformat()]
    rng = random.Random(11)
    kills = 0
    for _ in range(4):
        proc = subprocess.Popen(cmd, env=os.environ.copy(), stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "start"
        time.sleep(rng.uniform(0.0, took))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    final = subprocess.run(cmd, env=os.environ.copy(), capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-2000:]
    assert kills >= 2  # the test really interrupted advances in the middle

    def state(where):
        with duckdb.connect(str(where / "warehouse.duckdb"), read_only=True) as conn:
            e = conn.execute(
                "SELECT journey_id, customer_id, entry_key, status, position, due_at, arm "
                "FROM sms.journey_entries ORDER BY ALL"
            ).fetchall()
            m = conn.execute(
                "SELECT message_key, state, scheduled_at, body FROM sms.ledger "
                "WHERE journey_entry IS NOT NULL ORDER BY ALL"
            ).fetchall()
        return e, m

    assert state(base) == state(clean)
    assert state(base)[1]


def test_payment_reminders_follow_the_due_dates_and_stop_when_paid(copy):
    base, instance = copy
    assert advance(instance).success
    rows = query(
        base,
        """
        SELECT e.entry_key, e.status, e.due_at, e.next_step, i.due_on, i.is_open
        FROM sms.journey_entries AS e
        JOIN marts.fct_invoices AS i ON e.entry_key = 'invoice:' || i.invoice_id
        WHERE e.journey_id = 'payment-reminders'
        """,
    )
    assert rows
    assert all(is_open for *_, is_open in rows)  # only open invoices enter
    offsets = {"upcoming": -3, "due-today": 0, "overdue": 7}
    waiting = [r for r in rows if r[1] == "active" and r[3] in offsets]
    assert waiting
    for key, _, due_at, step, due_on, _ in waiting:
        # 10:00 local on the anchored day, in a zone between UTC-12 and UTC+14
        ten = datetime.combine(due_on + timedelta(days=offsets[step]), datetime.min.time())
        ten += timedelta(hours=10)
        assert ten - timedelta(hours=14) <= due_at <= ten + timedelta(hours=12), (key, step)
    # Transactional: no marketing opt-in needed, but never to an opted-out phone.
    for key, phone in query(
        base,
        "SELECT message_key, phone_e164 FROM sms.ledger WHERE campaign_id = 'payment-reminders' "
        "AND state IN ('planned', 'deferred')",
    ):
        assert latest_raw_consent(base, phone, NOW) != "opt_out", key


def test_a_broken_journey_file_fails_its_check_and_the_others_advance(copy, tmp_path, monkeypatch):
    base, instance = copy
    folder = tmp_path / "journeys"
    shutil.copytree(REPO_ROOT / "journeys", folder)
    data = yaml.safe_load((folder / "welcome-series.yml").read_text())
    data["entry"] = {"event": "segment_entered", "segment": "at-risk"}
    (folder / "welcome-series.yml").write_text(yaml.safe_dump(data))
    env(monkeypatch, base, folder)
    result = advance(instance, raise_on_error=False)
    files = [c for c in result.get_asset_check_evaluations() if c.check_name == "journey_files"]
    assert len(files) == 1 and not files[0].passed
    assert "welcome-series.yml" in files[0].metadata["errors"].value
    assert metadata(result)["journeys"] == 4
    assert {j for j, *_ in entries(base)} <= {
        "abandoned-checkout-series", "payment-reminders", "winback-series", "cross-sell",
    }  # fmt: skip
