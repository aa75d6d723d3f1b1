"""The operational store on a real PostgreSQL: the ledger code gives the same rows as on the
embedded store, and the warehouse's copy receives every change (deletions too) exactly
once, even from a transaction that commits after a later one was synced."""

import datetime as dt

import duckdb
import pandas as pd
import psycopg
import pytest
from support.ledger_rows import planned_rows

from dagster_project.activation import ledger
from dagster_project.opstore import postgres, sync

DAY = dt.date(2026, 12, 7)
NOW = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
NO_LINKS = pd.DataFrame(columns=["token", "message_key", "target_url"])
COMPARED = list(
    dict.fromkeys(
        [c for c in ledger.COLUMNS if c != "planned_at"]
        + ["sending_at", "final_at", "provider_message_id", "error_code", "error", "outcome",
           "attempts", "expires_at"]
    )
)  # fmt: skip


def rows_with_awkward_text(n: int) -> pd.DataFrame:
    rows = planned_rows(n, campaign="winback", day=DAY)
    rows.loc[0, "body"] = 'Line one,\nline "two"; 50% off\\now'
    rows.loc[1, "body"] = ""  # empty, not NULL
    rows.loc[2, "reason"] = None
    rows.loc[3, "variant"] = "B"
    return rows


def work_the_ledger(conn) -> None:
    """Every write the plans and the dispatch make, in the order a day makes them."""
    ledger.ensure(conn)
    rows = rows_with_awkward_text(12)
    links = pd.DataFrame(
        {"token": ["t0", "t1"], "message_key": rows["message_key"][:2], "target_url": "https://x"}
    )
    ledger.write_plan(conn, "winback", DAY, rows, links)
    keys = rows["message_key"].tolist()
    ledger.mark_sending(
        conn, keys[:4], NOW, "run-1", {k: NOW + dt.timedelta(hours=2) for k in keys[:4]}
    )
    ledger.record_results(
        conn,
        pd.DataFrame(
            {
                "key": keys[:4],
                "state": ["accepted", "accepted", "failed", "unknown"],
                "provider_message_id": ["SM1", "SM2", None, None],
                "error_code": [None, None, "21211", None],
                "error": [None, None, "invalid number", "timed out"],
                "outcome": [None, None, "invalid_number", None],
            }
        ),
        NOW + dt.timedelta(minutes=1),
    )
    ledger.give_way(conn, keys[4:6], "newcomer-offer")
    ledger.set_state(conn, keys[6:7], "skipped", "no longer opted in", step="send_time_check")
    ledger.reschedule(
        conn,
        pd.DataFrame(
            {
                "message_key": keys[7:8],
                "scheduled_at": [pd.Timestamp("2026-12-08 14:00")],
                "window_ends_at": [pd.Timestamp("2026-12-08 20:00")],
            }
        ),
    )
    # A re-plan without the last two candidates: their unsent rows go, the sent ones stay.
    ledger.write_plan(conn, "winback", DAY, rows.iloc[:10], links)


def ledger_of(conn) -> pd.DataFrame:
    frame = conn.execute(f"SELECT {', '.join(COMPARED)} FROM sms.ledger ORDER BY message_key").df()
    return frame.astype(object).where(frame.notna(), None)


@pytest.fixture
def pg(postgres_dsn):
    conn = postgres.connect(postgres_dsn)
    yield conn
    conn.close()


def test_the_ledger_code_writes_the_same_rows_on_both_stores(pg):
    duck = duckdb.connect()
    work_the_ledger(duck)
    work_the_ledger(pg)
    embedded, server = ledger_of(duck), ledger_of(pg)
    assert len(embedded) == 10
    assert embedded.to_dict("records") == server.to_dict("records")
    history = ledger.history(pg, [f"C{i:07d}" for i in range(12)], DAY + dt.timedelta(days=1))
    assert sorted(history["state"]) == sorted(
        ledger.history(duck, [f"C{i:07d}" for i in range(12)], DAY + dt.timedelta(days=1))["state"]
    )
    assert ledger.locked_customers(pg, "winback", DAY) == ledger.locked_customers(
        duck, "winback", DAY
    )


def test_the_sync_copies_changes_and_deletions_once(pg):
    warehouse = duckdb.connect()
    work_the_ledger(pg)
    first = sync.to_warehouse(pg, warehouse)
    assert first.rows["ledger"] == 10 and first.rows["links"] == 2
    assert ledger_of(warehouse).to_dict("records") == ledger_of(pg).to_dict("records")
    # NULL and empty text stayed apart through the CSV.
    assert (
        warehouse.execute(
            "SELECT count(*) FILTER (WHERE body = ''), count(*) FILTER (WHERE reason IS NULL) "
            "FROM sms.ledger"
        ).fetchall()
        == pg.execute(
            "SELECT count(*) FILTER (WHERE body = ''), count(*) FILTER (WHERE reason IS NULL) "
            "FROM sms.ledger"
        ).fetchall()
    )

    # Nothing changed: nothing copied.
    assert sync.to_warehouse(pg, warehouse).copied == 0
    # One row changes, two are deleted by a re-plan: only those travel.
    keys = [
        k
        for (k,) in pg.execute(
            "SELECT message_key FROM sms.ledger WHERE state = 'planned' ORDER BY 1"
        ).fetchall()
    ]
    ledger.set_state(pg, keys[:1], "skipped", "opted out")
    pg.execute("DELETE FROM sms.ledger WHERE message_key IN (?, ?)", keys[1:3])
    later = sync.to_warehouse(pg, warehouse)
    assert later.rows["ledger"] == 1 and later.deleted["ledger"] == 2
    assert ledger_of(warehouse).to_dict("records") == ledger_of(pg).to_dict("records")
    # Spent tombstones are removed once the warehouse has recorded a horizon past them.
    sync.to_warehouse(pg, warehouse)
    assert pg.execute("SELECT count(*) FROM sms._deleted").fetchall() == [(0,)]


def test_a_transaction_committing_after_a_later_one_was_synced_is_not_skipped(pg, postgres_dsn):
    """The classic hole in change capture by sequence: a transaction that started first but
    commits last. The sync's horizon (the oldest transaction still running) waits for it."""
    warehouse = duckdb.connect()
    ledger.ensure(pg)
    rows = planned_rows(3, campaign="winback", day=DAY)
    slow = psycopg.connect(postgres_dsn)  # a transaction of its own, left open
    with slow.cursor() as cur:
        cur.execute(
            "INSERT INTO sms.ledger (message_key, campaign_id, plan_day, customer_id, kind, state, "
            "step, planned_at) VALUES ('slow', 'winback', %s, 'C-slow', 'marketing', 'planned', "
            "'planned', now())",
            [DAY],
        )
    ledger.write_plan(pg, "winback", DAY, rows, NO_LINKS)  # starts later, commits first
    before = sync.to_warehouse(pg, warehouse)
    copied = {k for (k,) in warehouse.execute("SELECT message_key FROM sms.ledger").fetchall()}
    # Not yet visible, and the later rows wait behind it: nothing can be skipped over.
    assert "slow" not in copied and before.rows["ledger"] == 0
    slow.commit()
    slow.close()
    after = sync.to_warehouse(pg, warehouse)
    copied = {k for (k,) in warehouse.execute("SELECT message_key FROM sms.ledger").fetchall()}
    assert copied == {"slow", *rows["message_key"]} and after.rows["ledger"] == 4


def test_workers_starting_together_create_the_schema_once(postgres_dsn):
    from concurrent.futures import ThreadPoolExecutor

    from dagster_project.journeys import state

    def start(_):
        with postgres.connect(postgres_dsn) as conn:
            state.ensure(conn)
            return conn.execute("SELECT count(*) FROM sms._schema").fetchall()[0][0]

    with ThreadPoolExecutor(6) as pool:
        assert set(pool.map(start, range(6))) == {2}


def test_two_processes_sharing_a_sender_get_disjoint_slots_at_its_rate(postgres_dsn):
    """Reservations from two connections (as two workers) never overlap, and together they
    are spaced at the sender's rate on the database's clock."""
    import asyncio

    from dagster_project.opstore import rate

    with postgres.connect(postgres_dsn) as a, postgres.connect(postgres_dsn) as b:
        rate.ensure(a)
        clock = [0.0]
        slept: list[float] = []

        async def sleep(seconds: float) -> None:
            slept.append(seconds)

        limits = [
            rate.SharedRate(
                c, "SHOPEX", 200.0, 1.0, chunk_s=0.05, clock=lambda: clock[0], sleep=sleep
            )
            for c in (a, b)
        ]
        ends = []
        for turn in range(6):  # alternate: each reservation is 10 slots of 5 ms
            limits[turn % 2]._reserve()
            (end,) = a.execute(
                "SELECT next_at FROM sms.send_rates WHERE sender = 'SHOPEX'"
            ).fetchone()
            ends.append(end)
        # Back to back, each reservation starts exactly where the other worker's ended.
        assert [(y - x).total_seconds() for x, y in zip(ends, ends[1:], strict=False)] == [0.05] * 5
        for limit in limits:
            slots = sorted(limit._slots)
            assert all(
                round(y - x, 6) == 0.005 for x, y in zip(slots[:9], slots[1:10], strict=False)
            )
        # A slot long past (a stalled worker) is dropped, not spent late.
        stale = limits[0]
        stale._slots.clear()
        stale._slots.extend([-1.0, -0.5])
        clock[0] = 0.0
        nxt = stale.next_slot()
        assert nxt > -0.5 and stale.reservations >= 2
        asyncio.run(limits[1].acquire())


def test_a_message_held_under_a_live_lease_is_not_due_and_a_crashed_one_is(pg):
    """What a dispatch run sees on PostgreSQL: a row a worker is sending (live lease) is left
    to it; one left ``sending`` by a dead worker (lapsed lease) or by a one-process dispatch
    that died (no lease) is due, as a crashed send, and the rest as planned."""
    from dagster_project.activation.dispatch import due_messages

    ledger.ensure(pg)
    rows = planned_rows(4, campaign="winback", day=DAY)
    ledger.write_plan(pg, "winback", DAY, rows, NO_LINKS)
    keys = rows["message_key"].tolist()
    pg.execute(
        "UPDATE sms.ledger SET state = 'sending', lease_owner = 'w1', "
        "lease_until = now() AT TIME ZONE 'UTC' + interval '1 minute' WHERE message_key = ?",
        [keys[0]],
    )
    pg.execute(
        "UPDATE sms.ledger SET state = 'sending', lease_owner = 'w2', "
        "lease_until = now() AT TIME ZONE 'UTC' - interval '1 second' WHERE message_key = ?",
        [keys[1]],
    )
    pg.execute("UPDATE sms.ledger SET state = 'sending' WHERE message_key = ?", [keys[2]])
    warehouse = duckdb.connect()
    warehouse.execute("CREATE SCHEMA marts")
    warehouse.execute(
        "CREATE TABLE marts.dim_sms_reachability AS SELECT '+12025550003' AS phone_e164, "
        "'opted_in' AS consent_state, NULL::VARCHAR AS suppression_reasons, "
        "true AS may_receive_marketing, true AS may_receive_transactional, "
        "NULL::VARCHAR AS marketing_blocked_step, NULL::VARCHAR AS transactional_blocked_step, "
        "NULL::VARCHAR AS marketing_blocked_reason, NULL::VARCHAR AS transactional_blocked_reason"
    )
    due = due_messages(warehouse, pg, NOW + dt.timedelta(hours=1))
    assert dict(zip(due["message_key"], due["state"], strict=True)) == {
        keys[1]: "sending",
        keys[2]: "sending",
        keys[3]: "planned",
    }
    # Reachability joined by phone: the known phone may receive, unknown ones may not.
    verdicts = dict(zip(due["message_key"], due["may_receive"], strict=True))
    assert verdicts == {keys[1]: False, keys[2]: False, keys[3]: True}
    assert due.set_index("message_key").loc[keys[1], "blocked_reason"] == "no valid mobile number"
