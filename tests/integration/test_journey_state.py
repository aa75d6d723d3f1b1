"""Journey state in the operational store, on both implementations (a DuckDB of its own, and
a real PostgreSQL): saved with its messages in one transaction, a message never written
twice, an exit withdrawing what is not yet sent."""

import datetime as dt

import duckdb
import pandas as pd
import psycopg
import pytest

from dagster_project.activation import ledger
from dagster_project.journeys import engine, state
from dagster_project.journeys.engine import Entry

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
STEPS = ["first", "wait", "second"]


def entry(**change) -> Entry:
    base = Entry("cart-j", "c1", "checkout:1", NOW - dt.timedelta(hours=2), engine.TREATMENT)
    return Entry(**{**base.__dict__, **change})


def message(key_step: str, state_: str) -> dict:
    row = {c: None for c in ledger.COLUMNS}
    row.update(
        message_key=ledger.journey_message_key("cart-j", "c1", "checkout:1", key_step),
        campaign_id="cart-j", plan_day=NOW.date(), customer_id="c1", kind="marketing",
        state=state_, step="send_window", reason="r", planned_at=NOW.replace(tzinfo=None),
        journey_entry="checkout:1", journey_step=key_step,
    )  # fmt: skip
    return row


def entries_frame(*es: Entry) -> pd.DataFrame:
    return pd.DataFrame([state.to_row(e, STEPS, NOW, "run") for e in es], columns=state.COLUMNS)


@pytest.fixture(params=["embedded", "postgres"])
def conn(request):
    if request.param == "postgres":
        from dagster_project.opstore import postgres

        c = postgres.connect(request.getfixturevalue("postgres_dsn"))
    else:
        c = duckdb.connect()
    state.ensure(c)
    yield c
    c.close()


def ledger_rows(conn):
    return conn.execute(
        "SELECT journey_step, state, step, reason FROM sms.ledger ORDER BY 1"
    ).fetchall()


def no_links():
    return pd.DataFrame(columns=["token", "message_key", "target_url"])


def test_a_step_message_is_written_once_whatever_re_runs(conn):
    rows = pd.DataFrame([message("first", "deferred")], columns=ledger.COLUMNS)
    first = state.save(conn, entries_frame(entry(position=1)), rows, no_links())
    again = state.save(conn, entries_frame(entry(position=1)), rows, no_links())
    assert (first["messages"], again["messages"]) == (1, 0)
    assert len(ledger_rows(conn)) == 1
    assert conn.execute("SELECT count(*) FROM sms.journey_entries").fetchall() == [(1,)]


def test_an_exit_withdraws_the_messages_not_yet_sent_and_keeps_the_sent_ones(conn):
    rows = pd.DataFrame(
        [message("first", "accepted"), message("second", "deferred")], columns=ledger.COLUMNS
    )
    state.save(conn, entries_frame(entry(position=3)), rows, no_links())
    gone = entry(position=3, status=engine.EXITED, exit_reason="invoice_paid: paid")
    saved = state.save(conn, entries_frame(gone), rows.iloc[0:0], no_links())
    assert saved["withdrawn"] == 1
    assert ledger_rows(conn) == [
        ("first", "accepted", "send_window", "r"),
        ("second", "skipped", "journey_exit", "journey exit: invoice_paid: paid"),
    ]
    assert conn.execute("SELECT status, exit_reason FROM sms.journey_entries").fetchall() == [
        ("exited", "invoice_paid: paid")
    ]


def test_a_failed_save_leaves_neither_the_state_nor_the_messages(conn):
    rows = pd.DataFrame([message("first", "deferred")], columns=ledger.COLUMNS)
    broken = no_links().assign(extra=[])  # a links frame with a column too many: the insert fails
    with pytest.raises((duckdb.Error, psycopg.Error)):
        state.save(conn, entries_frame(entry(position=1)), rows, broken.iloc[0:0].reindex([0]))
    assert ledger_rows(conn) == []
    assert conn.execute("SELECT count(*) FROM sms.journey_entries").fetchall() == [(0,)]
