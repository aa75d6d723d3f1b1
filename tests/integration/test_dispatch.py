"""Plans and sends on generated data: real Dagster, real DuckDB, real HTTP gateways.

A small world is loaded and built once. Each test copies it, plans the example
campaigns through the plan assets and sends through the dispatch asset (the
sandbox gateway) or through ``dispatch`` in a subprocess that is killed at
random points (a local gateway that logs every key it receives).
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
import pytest
from dagster import AssetCheckKey, AssetKey, AssetSelection, DagsterInstance
from support.gateway_servers import Faults, GatewayServer
from support.webhook_server import ReceiverProcess

from dagster_project.activation import DISPATCH_SELECTION, PLAN_SELECTION
from dagster_project.activation.gateway.resource import GatewayResource
from dagster_project.activation.resources import read_book
from dagster_project.definitions import defs, materialize_selection
from dagster_project.ingest.assets import (
    crm_consent_catch_up,
    reference_assets,
    sms_events,
)
from dagster_project.settings import campaigns_dir

END = date(2026, 11, 21)
DAY = END + timedelta(days=1)
DAYS = 60
# 15:00 UTC: 10:00 in New York, 15:00 in London, 16:00 in Berlin, 18:00 in Istanbul;
# 07:00 in Los Angeles (closed: deferred).
NOW = datetime(2026, 11, 22, 15, 0, tzinfo=UTC)
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
PLAN_OPS = [
    defs.get_assets_def(k).op.name for k in PLAN_SELECTION.resolve(defs.resolve_asset_graph())
]
PLAN_CONFIG = {"ops": {op: {"config": {"now": NOW.isoformat()}} for op in PLAN_OPS}}


def env(mp, base):
    mp.setenv("SMS_DATA_DIR", str(base))
    mp.setenv("SMS_LANDING_DIR", str(base / "landing"))
    mp.setenv("SMS_WAREHOUSE_PATH", str(base / "warehouse.duckdb"))


def resources(**gateway):
    return {"gateway": GatewayResource(**gateway)}


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


@pytest.fixture(scope="module")
def planned(world, tmp_path_factory):
    """The world with the example campaigns planned for DAY at NOW, once for the module,
    in a Dagster instance kept on disk beside it (the plan's runs and gate verdicts)."""
    base = tmp_path_factory.mktemp("planned")
    for name in ("landing", "warehouse.duckdb"):
        src = world / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, base / name)
    (base / "dagster_home").mkdir()
    with (
        pytest.MonkeyPatch.context() as mp,
        DagsterInstance.local_temp(tempdir=str(base / "dagster_home")) as instance,
    ):
        env(mp, base)
        assert plan(instance).success
    return base


@pytest.fixture
def planned_copy(planned, tmp_path, monkeypatch):
    """This test's own copy of the planned world (landing files, warehouse, the link secret
    the plan made) and of its Dagster instance: what ``copy`` and ``plan(instance)`` give,
    without planning again."""
    shutil.copytree(planned, tmp_path, dirs_exist_ok=True)
    env(monkeypatch, tmp_path)
    with DagsterInstance.local_temp(tempdir=str(tmp_path / "dagster_home")) as instance:
        yield tmp_path, instance


def plan(instance, **gateway):
    return materialize_selection(
        PLAN_SELECTION,
        instance=instance,
        resources=resources(**gateway),
        run_config={**QUIET, **PLAN_CONFIG},
        partition_key=DAY.isoformat(),
    )


def dispatch_run(instance, now=NOW, raise_on_error=True, selection=None, **gateway):
    return materialize_selection(
        selection or DISPATCH_SELECTION,
        instance=instance,
        resources=resources(**gateway),
        run_config={**QUIET, "ops": {"activation__dispatch": {"config": {"now": now.isoformat()}}}},
        raise_on_error=raise_on_error,
    )


def query(base, sql, params=()):
    with duckdb.connect(str(base / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(sql, list(params)).fetchall()


def outbox(base) -> list[dict]:
    path = base / "sandbox_gateway" / "outbox.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_plan_and_send_the_example_campaigns_through_the_sandbox(copy):
    base, instance = copy
    planned = plan(instance)
    assert planned.success
    checks = planned.get_asset_check_evaluations()
    assert len(checks) == 4 and all(c.passed for c in checks)  # one compliance gate per plan

    states = dict(query(base, "SELECT state, count(*) FROM sms.ledger GROUP BY 1"))
    assert states["planned"] > 50 and states["deferred"] > 0 and states["held_out"] > 10
    # The evidence travels with every message that can be sent.
    assert query(
        base,
        "SELECT count(*) FROM sms.ledger WHERE state IN ('planned', 'deferred') AND "
        "(opt_in_event_id IS NULL OR opt_in_source IS NULL OR opt_in_text_version IS NULL "
        " OR body IS NULL OR sender IS NULL OR cost_usd IS NULL)",
    ) == [(0,)]
    # Newcomer offers only to people who never bought.
    assert query(
        base,
        "SELECT count(*) FROM sms.ledger l JOIN marts.dim_customers d USING (customer_id) "
        "WHERE l.campaign_id = 'newcomer-offer' AND l.state IN ('planned', 'deferred', 'held_out') "
        "AND d.orders_count > 0",
    ) == [(0,)]

    sent = dispatch_run(instance)
    md = sent.asset_materializations_for_node("activation__dispatch")[0].metadata
    accepted = md["accepted"].value
    assert accepted == states["planned"]  # all in-window messages, none of the deferred
    box = outbox(base)
    assert len(box) == accepted == len({m["key"] for m in box})
    ledger_accepted = {
        k for (k,) in query(base, "SELECT message_key FROM sms.ledger WHERE state = 'accepted'")
    }
    assert {m["key"] for m in box} == ledger_accepted
    held = {
        k for (k,) in query(base, "SELECT message_key FROM sms.ledger WHERE state = 'held_out'")
    }
    assert not held & ledger_accepted
    # Global cap: at most one marketing message per person that day, across campaigns.
    assert query(
        base,
        "SELECT max(n) FROM (SELECT customer_id, count(*) n FROM sms.ledger "
        "WHERE state IN ('accepted', 'deferred', 'planned') GROUP BY 1)",
    ) == [(1,)]
    # Every message went out inside its campaign's window in every zone of its number.
    assert audit_send_times(base) == accepted

    # Running again sends nothing twice: re-planning keeps what was sent, and the
    # dispatch finds nothing new due at the same moment.
    deferred = query(base, "SELECT message_key FROM sms.ledger WHERE state = 'deferred' ORDER BY 1")
    assert plan(instance).success
    # ... and a deferred message stays deferred (not taken for "already received").
    assert (
        query(base, "SELECT message_key FROM sms.ledger WHERE state = 'deferred' ORDER BY 1")
        == deferred
    )
    again = dispatch_run(instance)
    assert (
        again.asset_materializations_for_node("activation__dispatch")[0].metadata["accepted"].value
        == 0
    )
    assert len(outbox(base)) == accepted

    # Later that evening Berlin's window has closed, Los Angeles' has opened.
    evening = datetime(2026, 11, 22, 19, 30, tzinfo=UTC)  # 20:30 Berlin, 11:30 LA
    dispatch_run(instance, now=evening)
    for tz, state in query(
        base,
        "SELECT time_zone, state FROM sms.ledger WHERE state IN ('accepted', 'deferred') "
        "AND time_zone IN ('Europe/Berlin', 'America/Los_Angeles') AND final_at IS NOT NULL "
        "AND sending_at > ?",
        [NOW.replace(tzinfo=None)],
    ):
        assert tz == "America/Los_Angeles" and state == "accepted"
    assert audit_send_times(base) == len(outbox(base)) > accepted


def audit_send_times(base) -> int:
    """The send moment of every accepted message against its campaign's window in each zone
    libphonenumber gives its number (read from the phone, not from the ledger's zones) and
    in each zone the ledger kept as considered. Returns how many messages were checked."""
    from zoneinfo import ZoneInfo

    import phonenumbers
    from phonenumbers import timezone as phone_timezones

    windows = {c.id: c.send_window for c in read_book(campaigns_dir()).campaigns}
    rows = query(base, "SELECT message_key, campaign_id, phone_e164, sending_at, candidate_zones, "
                       "expires_at FROM sms.ledger WHERE state = 'accepted'")  # fmt: skip
    for key, campaign_id, phone, sent_at, kept, expires in rows:
        window = windows[campaign_id]
        zones = set(phone_timezones.time_zones_for_number(phonenumbers.parse(phone)))
        assert zones - {"Etc/Unknown"} and kept, (key, zones, kept)
        for zone in (zones - {"Etc/Unknown"}) | set(kept.split(",")):
            for moment in (sent_at, expires - timedelta(seconds=1)):
                local = moment.replace(tzinfo=UTC).astimezone(ZoneInfo(zone)).time()
                assert window.start <= local < window.end, (key, zone, local)
    return len(rows)


def drop_consent_file(base, phone: str, day: date, folder: str | None = None) -> Path:
    """A CRM consent export with one STOP, dropped into the landing folder (not loaded)."""
    where = base / "landing" / "crm" / "consent" / (folder or day.isoformat())
    where.mkdir(parents=True, exist_ok=True)
    event = {
        "event_id": f"stop-{phone}", "contact_id": None, "phone": phone, "country_code": None,
        "event_type": "opt_out", "source": "keyword", "occurred_at": f"{day}T04:17:00+00:00",
        "consent_text_version": None, "keyword": "STOP",
    }  # fmt: skip
    path = where / "consent-stop.jsonl"
    path.write_text(json.dumps(event) + "\n")
    return path


SEND_JOB = AssetSelection.assets(sms_events, crm_consent_catch_up) | DISPATCH_SELECTION


def test_a_consent_file_landed_between_plan_and_dispatch_counts_before_the_send(planned_copy):
    """The CRM recorded a STOP at 04:17 on the send day; its file landed after the plan."""
    base, instance = planned_copy
    planned = query(base, "SELECT message_key, phone_e164 FROM sms.ledger "
                          "WHERE state = 'planned' ORDER BY message_key")  # fmt: skip
    (key, phone), others = planned[0], planned[1:]
    drop_consent_file(base, phone, DAY)

    # The dispatch asset alone refuses while a landed consent file is not loaded.
    refused = dispatch_run(instance, raise_on_error=False)
    assert not refused.success and outbox(base) == []
    failure = next(e for e in refused.all_events if e.event_type_value == "STEP_FAILURE")
    assert "crm_consent_catch_up" in str(failure.event_specific_data.error)

    # The dispatch job loads it first: that recipient is skipped with the reason, the
    # others are sent.
    assert dispatch_run(instance, selection=SEND_JOB).success
    [(state, reason)] = query(
        base, "SELECT state, reason FROM sms.ledger WHERE message_key = ?", [key]
    )
    assert state == "skipped" and "no longer opted in at send time (opted_out)" in reason
    sent = {m["key"] for m in outbox(base)}
    assert phone not in {m["to"] for m in outbox(base)}
    assert {k for k, _ in others} <= sent
    [(loaded,)] = query(base, "SELECT count(*) FROM raw.crm_consent WHERE event_id = ?",
                        [f"stop-{phone}"])  # fmt: skip
    assert loaded == 1


def test_a_consent_file_that_cannot_be_loaded_stops_every_send(planned_copy):
    base, instance = planned_copy
    [(phone,)] = query(base, "SELECT phone_e164 FROM sms.ledger WHERE state = 'planned' "
                             "ORDER BY message_key LIMIT 1")  # fmt: skip
    stray = drop_consent_file(base, phone, DAY, folder="late-exports")
    result = dispatch_run(instance, selection=SEND_JOB, raise_on_error=False)
    assert not result.success and outbox(base) == []
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    assert str(stray) in str(failure.event_specific_data.error)
    # Moved into its delivery-day folder, it loads and the send goes ahead without that phone.
    (stray.parent.parent / DAY.isoformat()).mkdir(exist_ok=True)
    stray.rename(stray.parent.parent / DAY.isoformat() / stray.name)
    stray.parent.rmdir()
    assert dispatch_run(instance, selection=SEND_JOB).success
    assert outbox(base) and phone not in {m["to"] for m in outbox(base)}


def test_a_stop_sent_to_the_running_receiver_removes_the_phone_from_the_next_send(
    planned_copy, tmp_path
):
    base, instance = planned_copy
    [(key, phone)] = query(
        base,
        "SELECT message_key, phone_e164 FROM sms.ledger WHERE state = 'planned' "
        "ORDER BY message_key LIMIT 1",
    )
    secret = "dispatch-test-secret"
    with ReceiverProcess(tmp_path / "rx", secret=secret, env={"SMS_DATA_DIR": str(base)}) as rx:
        # The phone answers STOP; Kannel's smsbox calls the receiver's get-url with it.
        answer = httpx.get(
            f"{rx.url}/kannel/inbound/{secret}",
            params={"from": phone, "to": "SHOPEX", "text": " stop ", "charset": "UTF-8"},
        )
        assert answer.status_code == 200 and answer.text  # the opt-out confirmation
    assert not outbox(base)

    # The dispatch asset alone refuses: an event it has not loaded may be a STOP.
    refused = dispatch_run(instance, raise_on_error=False)
    assert not refused.success and not outbox(base)

    # The dispatch job loads the events first, then honours the STOP.
    assert dispatch_run(instance, selection=SEND_JOB).success
    [(state, reason)] = query(
        base, "SELECT state, reason FROM sms.ledger WHERE message_key = ?", [key]
    )
    assert state == "skipped" and "no longer opted in at send time (opted_out)" in reason
    sent = {m["to"] for m in outbox(base)}
    assert sent and phone not in sent
    [(consent, source)] = query(
        base,
        "SELECT consent_state, latest_event_source FROM marts.dim_sms_consent WHERE phone_e164 = ?",
        [phone],
    )
    assert (consent, source) == ("opted_out", "sms_reply")


def test_a_plan_that_would_text_an_opted_out_phone_stops_the_dispatch(planned_copy):
    base, instance = planned_copy
    [(victim,)] = query(
        base,
        "SELECT phone_e164 FROM marts.dim_sms_consent WHERE consent_state = 'opted_out' LIMIT 1",
    )
    [(campaign, key)] = query(
        base,
        "SELECT campaign_id, min(message_key) FROM sms.ledger WHERE state = 'planned' "
        "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1",
    )
    # A bug (or a hand edit) puts an opted-out phone into a plan after it was checked.
    with duckdb.connect(str(base / "warehouse.duckdb")) as conn:
        conn.execute("UPDATE sms.ledger SET phone_e164 = ? WHERE message_key = ?", [victim, key])
    gate = AssetCheckKey(AssetKey(["activation", "plan", campaign]), "sms_audience")
    check_op = f"activation__plan__{campaign.replace('-', '_')}_sms_audience"
    result = materialize_selection(
        AssetSelection.checks(gate) | DISPATCH_SELECTION,
        instance=instance,
        resources=resources(),
        run_config={
            **QUIET,
            "ops": {
                "activation__dispatch": {"config": {"now": NOW.isoformat()}},
                check_op: {"config": {"start": DAY.isoformat()}},
            },
        },  # fmt: skip
        raise_on_error=False,
    )
    assert not result.success
    [evaluation] = result.get_asset_check_evaluations()
    assert not evaluation.passed and "latest_consent_event" in evaluation.metadata["reason"].value
    failed = {o["column"] for o in evaluation.metadata["outcomes_json"].value if not o["success"]}
    assert "latest_consent_event" in failed
    assert victim not in str(evaluation.metadata["examples"].value)  # masked
    assert result.get_asset_materialization_events() == []
    assert outbox(base) == []  # zero messages sent
    # And a dispatch started on its own is refused while the gate's verdict stands.
    alone = dispatch_run(instance, raise_on_error=False)
    assert not alone.success and outbox(base) == []
    # The plan feeds the ledger, which the attribution marts read: the analysts' copy is not
    # refreshed while the plan's gate has failed, and the refusal names that gate.
    publish = materialize_selection(
        AssetSelection.assets(AssetKey("analytics_snapshot")),
        instance=instance,
        run_config=QUIET,
        raise_on_error=False,
    )
    assert not publish.success
    assert not (base / "published" / "warehouse.duckdb").exists()
    [failure] = [e for e in publish.all_events if e.is_step_failure]
    assert f"activation/plan/{campaign}:sms_audience" in str(failure.event_specific_data.error)


DISPATCH_SCRIPT = """
import datetime as dt, sys
import duckdb
import httpx
from dagster_project.activation.dispatch import dispatch
from dagster_project.activation.resources import read_book
from dagster_project.settings import campaigns_dir
from dagster_project.activation.gateway.resource import GatewayResource
gateway = GatewayResource(kind="twilio", base_url=sys.argv[2], account_sid="AC0", auth_token="t",
                          status_callback_url="http://127.0.0.1:9/status",
                          rate_per_second=400, timeout_seconds=float(sys.argv[3]), max_attempts=2,
                          base_backoff=0.05)
book = read_book(campaigns_dir())
with duckdb.connect(sys.argv[1]) as conn:
    dispatch(conn, gateway, book.by_id, dt.datetime.fromisoformat(sys.argv[4]),
             policy=book.policy, batch_size=15)
print("DONE")
"""


def test_killed_mid_send_and_rerun_no_key_reaches_the_gateway_twice(planned_copy, tmp_path):
    base, instance = planned_copy
    planned = {
        k for (k,) in query(base, "SELECT message_key FROM sms.ledger WHERE state = 'planned'")
    }
    assert len(planned) > 60
    rng = random.Random(7)
    faults = Faults(rate_slow=0.15, slow_seconds=0.6, rate_500=0.05, seed=3)
    with GatewayServer(faults, style="twilio", log_path=tmp_path / "gateway.jsonl") as gw:
        cmd = [sys.executable, "-c", DISPATCH_SCRIPT, str(base / "warehouse.duckdb"), gw.url, "0.3",
               NOW.isoformat()]  # fmt: skip
        kills = 0
        for _ in range(3):
            proc = subprocess.Popen(cmd, env=os.environ.copy(), stdout=subprocess.PIPE, text=True)
            time.sleep(rng.uniform(2.0, 5.0))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            proc.wait()
        final = subprocess.run(
            cmd, env=os.environ.copy(), capture_output=True, text=True, timeout=300
        )
        assert final.returncode == 0, final.stderr[-2000:]
        assert kills >= 1  # the test really interrupted a send
        received = gw.sends()
    # The gateway's own log: every key at most once, whatever happened to the sender.
    assert max(received.values()) == 1
    assert set(received) <= planned
    states = dict(query(base, "SELECT state, count(*) FROM sms.ledger WHERE message_key IN "
                              "(SELECT message_key FROM sms.ledger WHERE state NOT IN "
                              "('skipped', 'held_out', 'deferred')) GROUP BY 1"))  # fmt: skip
    # Every message reached a final state; nothing is left "sending".
    assert set(states) <= {"accepted", "failed", "unknown"}
    accepted = {
        k for (k,) in query(base, "SELECT message_key FROM sms.ledger WHERE state = 'accepted'")
    }
    assert accepted <= set(received)
    unknown = {
        k for (k,) in query(base, "SELECT message_key FROM sms.ledger WHERE state = 'unknown'")
    }
    # An unknown fate is reported, not resent: those keys reached the gateway at most once.
    assert all(received.get(k, 0) <= 1 for k in unknown)


def test_preview_prints_the_funnel_and_writes_nothing(copy, capsys):
    from dagster_project.activation import preview

    base, _ = copy
    before = query(
        base, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'sms'"
    )
    code = preview.main(
        ["newcomer-offer", "--now", NOW.isoformat(), "--warehouse", str(base / "warehouse.duckdb")]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "in_segment" in out and "send_window" in out and "estimated cost" in out
    assert "Reply STOP to opt out" in out and "••" in out  # rendered, phones masked
    assert "nothing is written or sent" in out
    after = query(base, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'sms'")
    assert before == after == [(0,)]
    assert not (base / "sandbox_gateway").exists()
    assert preview.main(["no-such-campaign", "--warehouse", str(base / "warehouse.duckdb")]) == 2


def broken_campaigns(tmp_path) -> Path:
    """The example campaigns plus one whose segment is misspelt (``at-risk``, not ``at_risk``)."""
    folder = tmp_path / "campaigns"
    shutil.copytree(campaigns_dir(), folder)
    text = (folder / "winback-lapsed.yml").read_text()
    broken = text.replace("id: winback-lapsed", "id: at-risk-nudge").replace(
        "segments: [lapsed]", "segments: [at-risk]"
    )
    assert broken != text
    (folder / "at-risk-nudge.yml").write_text(broken)
    return folder


def test_definitions_and_the_cli_load_with_a_broken_campaign_file(tmp_path):
    folder = broken_campaigns(tmp_path)
    env = {**os.environ, "SMS_CAMPAIGNS_DIR": str(folder)}
    listing = subprocess.run(
        [sys.executable, "-c", "from dagster_project.definitions import defs\n"
         "for k in defs.get_repository_def().asset_graph.get_all_asset_keys():\n"
         "    print(k.to_user_string())"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    for campaign in ("at-risk-nudge", "winback-lapsed", "vip-thank-you"):
        assert f"activation/plan/{campaign}" in listing
    assert {"raw/sms_events", "activation/dispatch", "sms/ledger"} <= set(listing)
    cli = subprocess.run(
        [sys.executable, "-m", "dagster_project.pipeline", "--help"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert cli.returncode == 0 and "usage" in cli.stdout.lower(), cli.stderr


def test_a_broken_campaign_file_fails_its_own_check_and_nothing_else(copy, monkeypatch):
    from dagster_project.activation import resources as campaign_resources
    from dagster_project.definitions import build

    base, instance = copy
    reads = []
    real_read = campaign_resources.read_book
    monkeypatch.setattr(
        campaign_resources,
        "read_book",
        lambda folder, *more: reads.append(folder) or real_read(folder, *more),
    )
    location = build(broken_campaigns(base))

    def run(selection, **kw):
        return materialize_selection(
            selection, code_location=location, instance=instance, raise_on_error=False, **kw
        )

    # Ingest and outcome loading go on.
    assert run(AssetSelection.assets(*reference_assets), run_config=QUIET).success
    assert run(AssetSelection.assets(sms_events), run_config=QUIET).success
    # The plans run: every valid campaign is planned, the broken one fails, named.
    ops = [location.get_assets_def(k).op.name for k in PLAN_SELECTION.resolve(
        location.resolve_asset_graph())]  # fmt: skip
    plans = run(
        PLAN_SELECTION,
        run_config={**QUIET, "ops": {op: {"config": {"now": NOW.isoformat()}} for op in ops}},
        partition_key=DAY.isoformat(),
    )
    assert not plans.success
    assert len(reads) == 1  # the campaign files, read once for the five plan steps
    planned = {e.asset_key.path[-1] for e in plans.get_asset_materialization_events()}
    assert planned == {"abandoned-checkout", "newcomer-offer", "vip-thank-you", "winback-lapsed"}
    [check] = [e for e in plans.get_asset_check_evaluations() if e.check_name == "campaign_file"]
    assert check.asset_key == AssetKey(["activation", "plan", "at-risk-nudge"])
    assert not check.passed and check.severity.value == "ERROR"
    assert "at-risk-nudge.yml" in check.description and "field segments" in check.description
    assert "at-risk" in check.metadata["error"].value
    [failure] = [e for e in plans.all_events if e.is_step_failure]
    assert "at_risk_nudge" in failure.step_key
    assert query(base, "SELECT count(*) FROM sms.ledger WHERE campaign_id = 'at-risk-nudge'") == [
        (0,)
    ]
    # ... and the valid campaigns' messages go out.
    sent = run(
        AssetSelection.assets(sms_events, crm_consent_catch_up) | DISPATCH_SELECTION,
        run_config={**QUIET, "ops": {"activation__dispatch": {"config": {"now": NOW.isoformat()}}}},
    )
    assert sent.success
    sent_for = {m["key"].split("|")[0] for m in outbox(base)}
    assert len(outbox(base)) > 50 and len(sent_for) >= 2 and sent_for <= planned


def test_a_transactional_plan_needs_no_opt_in_but_never_reaches_an_opt_out(copy):
    """The same audience as a transactional campaign: its own gate (no opt-in needed, STOP
    and suppression still hold) passes, and it reaches phones the marketing rule refuses."""
    from dagster_project.definitions import build

    base, instance = copy
    folder = base / "campaigns"
    shutil.copytree(campaigns_dir(), folder)
    path = folder / "newcomer-offer.yml"
    path.write_text(path.read_text().replace("kind: marketing", "kind: transactional"))
    location = build(folder)
    ops = [location.get_assets_def(k).op.name for k in PLAN_SELECTION.resolve(
        location.resolve_asset_graph())]  # fmt: skip
    plans = materialize_selection(
        PLAN_SELECTION,
        code_location=location,
        instance=instance,
        run_config={**QUIET, "ops": {op: {"config": {"now": NOW.isoformat()}} for op in ops}},
        partition_key=DAY.isoformat(),
    )
    assert plans.success
    gates = {(e.asset_key.path[-1], e.check_name): e for e in plans.get_asset_check_evaluations()}
    assert gates[("newcomer-offer", "sms_transactional_audience")].passed
    assert ("newcomer-offer", "sms_audience") not in gates
    assert gates[("vip-thank-you", "sms_audience")].passed  # the others stay marketing
    [(sendable, without_opt_in, opted_out, refused)] = query(
        base,
        "SELECT count(*), count(*) FILTER (WHERE NOT r.may_receive_marketing), "
        "count(*) FILTER (WHERE r.consent_state = 'opted_out'), "
        "count(*) FILTER (WHERE NOT r.may_receive_transactional) "
        "FROM sms.ledger AS l JOIN marts.dim_sms_reachability AS r USING (phone_e164) "
        "WHERE l.campaign_id = 'newcomer-offer' AND l.state IN ('planned', 'deferred')",
    )
    assert sendable > 0 and without_opt_in > 0
    assert opted_out == 0 and refused == 0


def test_parallel_workers_on_postgres_send_exactly_what_one_process_sends(
    world, tmp_path, monkeypatch, postgres_dsn
):
    """The same world and clock, planned and sent twice: once by one process on the embedded
    store, once by three worker processes on PostgreSQL. Every message ends in the same state
    for the same reason, the gateway receives the same keys once each, the same links are
    registered, and the warehouse's synced copy is the store's ledger."""
    from dagster_project import opstore
    from dagster_project.activation.dispatch import dispatch

    seen = {}
    for store in ("embedded", "postgres"):
        base = tmp_path / store
        base.mkdir()
        for name in ("landing", "warehouse.duckdb"):
            src = world / name
            (shutil.copytree if src.is_dir() else shutil.copy)(src, base / name)
        env(monkeypatch, base)
        monkeypatch.setenv("SMS_OPSTORE", store)
        monkeypatch.setenv("SMS_POSTGRES_DSN", postgres_dsn)
        with DagsterInstance.ephemeral() as instance:
            assert plan(instance).success
        book = read_book(campaigns_dir())
        links = base / "links.jsonl"
        with GatewayServer(style="twilio") as gw:
            gateway = GatewayResource(
                kind="twilio", base_url=gw.url, account_sid="AC0", auth_token="t",
                status_callback_url="http://127.0.0.1:9/status", rate_per_second=500,
            )  # fmt: skip
            with (
                duckdb.connect(str(base / "warehouse.duckdb")) as conn,
                opstore.connection(conn) as ops,
            ):
                report = dispatch(
                        conn, gateway, book.programs, NOW, policy=book.policy,
                        run_id=f"run-{store}", batch_size=25, store=ops,
                        workers=1 if store == "embedded" else 3, links_path=links,
                    )  # fmt: skip
                in_store = ops.execute(
                    "SELECT message_key, state, step, reason FROM sms.ledger ORDER BY 1"
                ).fetchall()
                opstore.sync_warehouse(ops, conn)
            received = gw.sends()
        copied = query(base, "SELECT message_key, state, step, reason FROM sms.ledger ORDER BY 1")
        assert [tuple(r) for r in in_store] == [tuple(r) for r in copied]
        # Tokens are drawn at random by each plan: compare which message links where.
        registered = sorted(
            (link["message_key"], link["target_url"])
            for link in map(json.loads, links.read_text().splitlines() if links.exists() else [])
        )
        seen[store] = (report, copied, received, registered)

    (one, ledger_one, got_one, links_one), (many, ledger_many, got_many, links_many) = (
        seen["embedded"],
        seen["postgres"],
    )
    assert one.sent.get("accepted", 0) > 20
    assert ledger_one == ledger_many
    assert got_one == got_many and max(got_many.values()) == 1
    assert (one.sent, one.skipped, one.deferred) == (many.sent, many.skipped, many.deferred)
    assert links_one and links_one == links_many
