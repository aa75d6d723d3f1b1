"""The SMS outcome and attribution models on a small real warehouse, by hand-made events.

A small generated population is loaded through the ingest assets and built with real
dbt, as in test_models.py. Then a hand-made send ledger (the activation layer's own DDL)
and hand-made gateway events (raw.sms_events as docs/outcomes.md defines it) are written
for real customers, phones and orders, and the SMS models are built again. Every case
below is one customer or phone whose expected outcome is known by construction:

* receipts out of order, repeated, or matched only by provider id: status moves forward;
* a STOP reply opts the phone out and suppresses it; START restores the earlier opt-in
  (its wording); START from a phone that never opted in is no complete opt-in;
* two hard failures suppress a phone, one does not, nor do soft (30003) failures;
* the lift columns against a Newcombe / Katz computation done here, without scipy.
"""

import math
from datetime import date, datetime, timedelta

import duckdb
import pandas as pd
import pytest
from dagster import AssetSelection, DagsterInstance

from dagster_project.activation import ledger as sms_ledger
from dagster_project.definitions import materialize_selection
from dagster_project.ingest import tables as ingest_tables
from dagster_project.ingest.assets import daily_assets, reference_assets
from dagster_project.ingest.jobs import RANGE_END_TAG, RANGE_START_TAG
from dagster_project.transform import run_dbt

END = date(2026, 11, 21)
AS_OF = "2026-11-22"
DAYS = 120
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
Z = 1.96
DELIVERY_DAYS = 5

EVENT_COLUMNS = [
    "event_id", "received_at", "occurred_at", "source", "event_type", "message_key",
    "provider_message_id", "status", "provider_status", "error_code", "phone", "our_number",
    "text", "keyword", "action", "language", "reply_text", "token", "target_url", "user_agent",
    "_source_file", "_source_line", "_loaded_at",
]  # fmt: skip


def dbt(warehouse, base, *args):
    run_dbt(*args, warehouse=warehouse, work_dir=base, as_of=AS_OF)


class Ledger:
    """Hand-made ledger rows and events, with the contract's column sets."""

    def __init__(self):
        self.rows, self.events = [], []

    def message(self, campaign, customer, phone, at, state="accepted", variant="A", **kw):
        day = at.date()
        key = sms_ledger.message_key(campaign, customer, day, variant)
        sent = state in ("accepted", "failed")
        self.rows.append(
            {
                "message_key": key,
                "campaign_id": campaign,
                "plan_day": day,
                "customer_id": customer,
                "variant": variant,
                "kind": "marketing",
                "state": state,
                "step": "holdout" if state == "held_out" else "send_window",
                "reason": None,
                "phone_e164": phone,
                "time_zone": "UTC",
                "country": "US",
                "sender": "+15005550006",
                "language": "en",
                "body": "hi",
                "encoding": "GSM-7",
                "segments": 1,
                "cost_usd": 0.0079,
                "opt_in_event_id": None,
                "opt_in_source": None,
                "opt_in_text_version": None,
                "scheduled_at": at,
                "planned_at": at - timedelta(minutes=5),
                "sending_at": at if sent else None,
                "final_at": at + timedelta(seconds=1) if sent else None,
                "provider_message_id": f"SM{len(self.rows):06d}" if state == "accepted" else None,
                "error_code": None,
                "error": None,
                "outcome": None,
                "attempts": int(sent),
                "run_id": "test",
            }  # fmt: skip
        )
        self.rows[-1].update(kw)
        return key

    def provider_id(self, key):
        return next(r["provider_message_id"] for r in self.rows if r["message_key"] == key)

    def event(self, event_type, received_at, occurred_at=None, **kw):
        row = dict.fromkeys(EVENT_COLUMNS)
        row.update(
            event_id=f"ev{len(self.events):05d}",
            received_at=received_at,
            occurred_at=occurred_at,
            source="twilio" if event_type != "click" else "link",
            event_type=event_type,
            _source_file="events-test.jsonl",
            _source_line=len(self.events) + 1,
            _loaded_at=datetime(2026, 11, 22),
        )
        row.update(kw)
        self.events.append(row)

    def status(self, key, status, at, received=None, code=None, by_provider_id=False, phone=None):
        self.event(
            "status",
            received or at,
            at,
            message_key=None if by_provider_id else key,
            provider_message_id=self.provider_id(key),
            status=status,
            error_code=code,
            phone=phone,
        )

    def reply(self, phone, keyword, action, at):
        self.event(
            "inbound", at, at, phone=phone, text=keyword, keyword=keyword, action=action,
            language="en", provider_message_id=f"SMIN{len(self.events):05d}",
        )  # fmt: skip

    def write(self, warehouse):
        with duckdb.connect(str(warehouse)) as conn:
            conn.execute("SET TimeZone = 'UTC'")
            sms_ledger.ensure(conn)
            frame = pd.DataFrame(self.rows)
            conn.register("_rows", frame)
            conn.execute(f"INSERT INTO sms.ledger ({', '.join(frame.columns)}) SELECT * FROM _rows")
            ingest_tables.ensure_tables(conn)  # raw.sms_events as the ingest layer makes it
            events = pd.DataFrame(self.events, columns=EVENT_COLUMNS)
            for col in ("received_at", "occurred_at", "_loaded_at"):
                events[col] = pd.to_datetime(events[col]).dt.tz_localize("UTC")
            conn.register("_events", events)
            conn.execute("INSERT INTO raw.sms_events SELECT * FROM _events")


def wilson(x, n):
    p = x / n
    center = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return center - half, center + half


@pytest.fixture(scope="module")
def built(tmp_path_factory, generated):
    base = tmp_path_factory.mktemp("attribution")
    generated(customers=400, days=DAYS, seed=11, end=END).copy_to(base)
    warehouse = base / "warehouse.duckdb"
    start = date.fromordinal(END.toordinal() - DAYS + 1).isoformat()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SMS_LANDING_DIR", str(base / "landing"))
        mp.setenv("SMS_WAREHOUSE_PATH", str(warehouse))
        with DagsterInstance.ephemeral() as instance:
            assert materialize_selection(
                AssetSelection.assets(*reference_assets), instance=instance, run_config=QUIET
            ).success
            assert materialize_selection(
                AssetSelection.assets(*daily_assets),
                instance=instance,
                run_config=QUIET,
                tags={RANGE_START_TAG: start, RANGE_END_TAG: END.isoformat()},
            ).success
    # Customers, orders and consent first: the ledger is written for the ids dbt gives.
    dbt(
        warehouse, base, "build", "--exclude-resource-type", "test", "unit_test",
        "--select", "+fct_orders", "+dim_sms_consent", "+dim_customer_segments",
    )  # fmt: skip

    with duckdb.connect(str(warehouse), read_only=True) as conn:
        buyers = conn.execute(
            """SELECT customer_id, min(ordered_at) AS first_at, list(ordered_at ORDER BY ordered_at)
               FROM marts.fct_orders WHERE is_purchase AND customer_id IS NOT NULL
               GROUP BY 1 HAVING count(*) >= 1 ORDER BY 1"""
        ).fetchall()
        opted_in = conn.execute(
            """SELECT phone_e164, customer_id, opt_in_event_id, opt_in_text_version
               FROM marts.dim_sms_consent
               WHERE consent_state = 'opted_in' AND has_complete_opt_in_record
                 AND customer_id IS NOT NULL ORDER BY 1 LIMIT 2"""
        ).fetchall()
        consented = {
            r[0]
            for r in conn.execute(
                "SELECT phone_e164 FROM staging.stg_crm__consent_events"
            ).fetchall()
        }
        segmented = conn.execute(
            """SELECT customer_id, list(DISTINCT segment ORDER BY segment)
               FROM marts.dim_customer_segments GROUP BY 1 ORDER BY 1 LIMIT 1"""
        ).fetchone()
    assert len(buyers) >= 60 and len(opted_in) == 2

    led = Ledger()
    t0 = datetime(2026, 9, 1, 10, 0)
    case = {}

    # 1. Forward-only status: receipts late, out of order, repeated, by provider id only.
    c = buyers[0][0]
    key = led.message("status-test", c, "+15550000001", t0)
    led.status(key, "delivered", t0 + timedelta(seconds=20), received=t0 + timedelta(seconds=21))
    led.status(key, "sent", t0 + timedelta(seconds=5), received=t0 + timedelta(minutes=9))
    led.status(key, "delivered", t0 + timedelta(seconds=40), by_provider_id=True)  # repeated
    led.status(key, "failed", t0 + timedelta(minutes=30), code="30005")  # after delivered
    led.status(key, "queued", t0 + timedelta(seconds=1), received=t0 + timedelta(hours=2))
    case["status"] = key
    key = led.message("status-test", buyers[1][0], "+15550000002", t0)
    led.status(key, "sent", t0 + timedelta(seconds=3), by_provider_id=True)
    case["status_by_provider_id"] = key

    # 2. STOP from an opted-in phone, linked to the message before it. After every CRM
    #    event (consent is not bounded by as_of; the latest event wins).
    t1 = datetime(2026, 11, 23, 9, 0)
    phone, customer, _, _ = opted_in[0]
    key = led.message("consent-test", customer, phone, t1)
    led.status(key, "delivered", t1 + timedelta(seconds=10))
    led.reply(phone, "STOP", "opt_out", t1 + timedelta(hours=1))
    case["stop"] = (phone, key)
    # 3. STOP then START: the earlier opt-in (its wording) is back.
    phone, customer, opt_in_event, version = opted_in[1]
    led.message("consent-test", customer, phone, t1)
    led.reply(phone, "STOP", "opt_out", t1 + timedelta(hours=1))
    led.reply(phone, "START", "opt_in", t1 + timedelta(days=2))
    case["start"] = (phone, opt_in_event, version)
    # START from a phone nobody ever opted in: opted in, but no wording on record.
    stranger = next(p for i in range(100, 999) if (p := f"+1555000{i:04d}") not in consented)
    led.reply(stranger, "START", "opt_in", t1 + timedelta(hours=3))
    case["stranger"] = stranger

    # 4. Hard failures: two suppress (receipt + gateway refusal), one does not, soft never,
    #    and a delivery in between resets the count.
    def failing(phone, customer, n, code="30005", refused=False):
        for i in range(n):
            at = t0 + timedelta(days=i)
            if refused and i == 0:
                led.message(f"hb-{i}", customer, phone, at, state="failed",
                            error_code="21211", outcome="invalid_number")  # fmt: skip
                continue
            key = led.message(f"hb-{i}", customer, phone, at)
            led.status(key, "undelivered", at + timedelta(seconds=9), code=code)

    failing("+15550000011", buyers[2][0], 2)
    failing("+15550000012", buyers[3][0], 1)
    failing("+15550000013", buyers[4][0], 3, code="30003")
    failing("+15550000014", buyers[5][0], 2, refused=True)
    reset = "+15550000015"
    for i, status in enumerate(["undelivered", "delivered", "undelivered"]):
        key = led.message(f"hb-{i}", buyers[6][0], reset, t0 + timedelta(days=i))
        led.status(key, status, t0 + timedelta(days=i, seconds=9), code="30005" if i != 1 else None)
    led.message("carrier", buyers[7][0], "+15550000016", t0, state="failed",
                error_code="21610", outcome="unsubscribed")  # fmt: skip

    # 5. Lift: 30 treated (12 buy within 5 days of the send), 20 held out (4 buy). A
    #    converter's anchor is 2 hours before one of their purchases; a non-converter's is
    #    30 days before their first purchase, so nothing falls in its window.
    pool = buyers[10:60]
    treated, held = pool[:30], pool[30:]
    anchors = {}
    for i, (customer, first_at, purchases) in enumerate(treated):
        at = purchases[-1] - timedelta(hours=2) if i < 12 else first_at - timedelta(days=30)
        anchors[led.message("lift-test", customer, f"+1555001{i:04d}", at)] = at
    for i, (customer, first_at, purchases) in enumerate(held):
        at = purchases[-1] - timedelta(hours=2) if i < 4 else first_at - timedelta(days=30)
        led.message("lift-test", customer, f"+1555002{i:04d}", at, state="held_out",
                    variant="A")  # fmt: skip
    # 6. Segments on the plan day: a message planned on the as_of day.
    case["segments"] = (led.message("segment-test", segmented[0], "+15550000099",
                                    datetime(2026, 11, 22, 10)), segmented[1])  # fmt: skip

    led.write(warehouse)
    dbt(
        warehouse, base, "build", "--select",
        "+mart_campaign_performance+", "+mart_segment_performance+",
        "+dim_customer_sms_engagement+", "+dim_sms_suppression+", "opted_out_phones_are_suppressed",
    )  # fmt: skip
    conn = duckdb.connect(str(warehouse), read_only=True)
    yield {"conn": conn, "case": case, "buyers": buyers}
    conn.close()


def test_status_only_moves_forward(built):
    conn, case = built["conn"], built["case"]
    row = conn.execute(
        """SELECT delivery_status, delivered_at, carrier_sent_at, queued_at, status_event_count,
                  is_delivered, delivery_error_code
           FROM marts.fct_sms_messages WHERE message_key = ?""",
        [case["status"]],
    ).fetchone()
    t0 = datetime(2026, 9, 1, 10, 0)
    assert row == (
        "delivered",
        t0 + timedelta(seconds=20),  # the first delivered, not the repeat
        t0 + timedelta(seconds=5),  # the late "sent" fills the timeline ...
        t0 + timedelta(seconds=1),
        5,
        True,
        None,  # ... and neither it nor the later "failed" overwrites "delivered"
    )
    status = conn.execute(
        "SELECT delivery_status FROM marts.fct_sms_messages WHERE message_key = ?",
        [case["status_by_provider_id"]],
    ).fetchone()
    assert status == ("sent",)


def test_stop_opts_out_and_suppresses(built):
    conn, case = built["conn"], built["case"]
    phone, key = case["stop"]
    state = conn.execute(
        "SELECT consent_state, latest_event_source, opt_out_keyword FROM marts.dim_sms_consent "
        "WHERE phone_e164 = ?",
        [phone],
    ).fetchone()
    assert state == ("opted_out", "sms_reply", "STOP")
    reasons = conn.execute(
        "SELECT list(suppression_reason) FROM marts.dim_sms_suppression WHERE phone_e164 = ?",
        [phone],
    ).fetchone()[0]
    assert reasons == ["opt_out"]
    assert conn.execute(
        "SELECT opted_out, replies FROM marts.fct_sms_messages WHERE message_key = ?", [key]
    ).fetchone() == (True, 1)
    assert conn.execute(
        "SELECT message_key, is_opt_out FROM marts.fct_sms_replies WHERE phone_e164 = ?", [phone]
    ).fetchone() == (key, True)


def test_start_restores_the_earlier_opt_in_and_only_that(built):
    conn, case = built["conn"], built["case"]
    phone, opt_in_event, version = case["start"]
    row = conn.execute(
        """SELECT consent_state, has_complete_opt_in_record, opt_in_source, opt_in_text_version,
                  opt_in_restored_from_event_id, opt_in_keyword
           FROM marts.dim_sms_consent WHERE phone_e164 = ?""",
        [phone],
    ).fetchone()
    assert row == ("opted_in", True, "sms_reply", version, opt_in_event, "START")
    assert not conn.execute(
        "SELECT count(*) FROM marts.dim_sms_suppression WHERE phone_e164 = ?", [phone]
    ).fetchone()[0]
    stranger = conn.execute(
        "SELECT consent_state, has_complete_opt_in_record, opt_in_text_version "
        "FROM marts.dim_sms_consent WHERE phone_e164 = ?",
        [case["stranger"]],
    ).fetchone()
    assert stranger == ("opted_in", False, None)


def test_two_hard_failures_suppress_one_does_not(built):
    conn = built["conn"]
    rows = dict(
        conn.execute(
            "SELECT phone_e164, suppression_reason || ': ' || detail FROM marts.dim_sms_suppression "
            "WHERE phone_e164 LIKE '+155500000%' AND suppression_reason <> 'opt_out'"
        ).fetchall()
    )
    assert rows == {
        "+15550000011": "hard_bounce: 2 hard failures since the last delivery, last code 30005",
        "+15550000014": "hard_bounce: 2 hard failures since the last delivery, last code 30005",
        "+15550000016": "carrier_opt_out: send refused: recipient opted out at the carrier "
        "(code 21610)",
    }  # 12: one failure; 13: 30003 is soft; 15: a delivery between its two failures


def test_lift_matches_newcombe_and_katz(built):
    conn = built["conn"]
    row = conn.execute(
        """SELECT treated_customers, treated_converters, holdout_customers, holdout_converters,
                  lift_abs, lift_abs_ci_low, lift_abs_ci_high, lift_rel, lift_rel_ci_low,
                  lift_rel_ci_high, treated_revenue, holdout_revenue, incremental_revenue,
                  planned, sent, delivery_rate
           FROM marts.mart_campaign_performance WHERE campaign_id = 'lift-test'"""
    ).fetchone()
    nt, xt, nc, xc = row[:4]
    assert (nt, xt, nc, xc) == (30, 12, 20, 4)
    pt, pc = xt / nt, xc / nc
    (lt, ut), (lc, uc) = wilson(xt, nt), wilson(xc, nc)
    d = pt - pc
    low = d - math.sqrt((pt - lt) ** 2 + (uc - pc) ** 2)
    high = d + math.sqrt((ut - pt) ** 2 + (pc - lc) ** 2)
    se = math.sqrt(1 / xt - 1 / nt + 1 / xc - 1 / nc)
    rr = pt / pc
    expected = [
        d, low, high, rr - 1, math.exp(math.log(rr) - Z * se) - 1, math.exp(math.log(rr) + Z * se) - 1,
    ]  # fmt: skip
    assert row[4:10] == pytest.approx(expected, abs=1e-12)
    # Hand-checked anchors: Newcombe's interval for 12/30 vs 4/20 is about (-0.07, 0.41).
    assert round(low, 2) == -0.07 and round(high, 2) == 0.41
    treated_revenue, holdout_revenue, incremental = (float(v) for v in row[10:13])
    assert incremental == pytest.approx(
        (treated_revenue / nt - holdout_revenue / nc) * nt, abs=0.01
    )
    assert row[13:16] == (30, 30, 0.0)  # no receipts: nothing shown delivered


def test_windows_count_only_purchases_after_the_anchor(built):
    """fct_sms_messages' window flag agrees with a recount from fct_orders."""
    conn = built["conn"]
    recount = conn.execute(
        f"""SELECT m.message_key, count(o.order_key) > 0
            FROM marts.fct_sms_messages AS m
            LEFT JOIN marts.fct_orders AS o
              ON o.customer_id = m.customer_id AND o.is_purchase
             AND o.ordered_at > m.attribution_anchor_at
             AND o.ordered_at <= m.attribution_anchor_at + INTERVAL {DELIVERY_DAYS} DAY
            WHERE m.campaign_id = 'lift-test' GROUP BY 1"""
    ).fetchall()
    flags = dict(
        conn.execute(
            "SELECT message_key, has_purchase_in_window FROM marts.fct_sms_messages "
            "WHERE campaign_id = 'lift-test'"
        ).fetchall()
    )
    assert dict(recount) == flags and sum(flags.values()) == 16


def test_segments_at_plan_time(built):
    conn, case = built["conn"], built["case"]
    key, segments = case["segments"]
    row = conn.execute(
        "SELECT customer_segments, customer_segment_count FROM marts.fct_sms_messages "
        "WHERE message_key = ?",
        [key],
    ).fetchone()
    assert row == (segments, len(segments))
    per_segment = conn.execute(
        "SELECT list(segment ORDER BY segment) FROM marts.mart_segment_performance "
        "WHERE campaign_id = 'segment-test'"
    ).fetchone()[0]
    assert per_segment == segments
