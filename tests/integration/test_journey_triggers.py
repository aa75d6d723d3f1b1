"""Each entry trigger selects exactly its events, in its time window (a DuckDB of its own)."""

import datetime as dt

import duckdb
import pytest

from dagster_project.journeys.facts import triggered
from dagster_project.journeys.spec import Journey

NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def conn():
    c = duckdb.connect()
    c.execute("CREATE SCHEMA marts")
    c.execute(
        """
        CREATE TABLE marts.fct_customer_events AS SELECT * FROM (VALUES
            ('checkout:1', 'c1', 'checkout_abandoned', TIMESTAMP '2026-03-10 10:05', NULL, ['TOY'], ['T-1'], NULL),
            ('checkout:2', 'c2', 'checkout_abandoned', TIMESTAMP '2026-03-08 10:05', NULL, ['TOY'], ['T-1'], NULL),
            ('checkout:3', 'c3', 'checkout_abandoned', TIMESTAMP '2026-03-10 12:30', NULL, ['TOY'], ['T-1'], NULL),
            ('order:1', 'c1', 'order', TIMESTAMP '2026-03-10 09:00', true, ['TOY', 'HOME'], ['T-1', 'H-1'], NULL),
            ('order:2', 'c2', 'order', TIMESTAMP '2026-03-10 09:30', false, ['HOME'], ['H-1'], NULL),
            ('consent:1', 'c4', 'opt_in', TIMESTAMP '2026-03-09 18:00', NULL, NULL, NULL, NULL),
            ('consent:2', 'c5', 'opt_out', TIMESTAMP '2026-03-09 18:00', NULL, NULL, NULL, NULL),
            ('reply:1', 'c6', 'reply', TIMESTAMP '2026-03-10 08:00', NULL, NULL, NULL, 'info'),
            ('reply:2', 'c7', 'reply', TIMESTAMP '2026-03-10 08:00', NULL, NULL, NULL, 'STOP')
        ) AS t(event_id, customer_id, event_type, event_at, is_first_order, categories, skus, keyword)
        """
    )  # fmt: skip
    c.execute(
        """
        CREATE TABLE marts.fct_customer_segment_history AS SELECT * FROM (VALUES
            ('c8', 'lapsed', DATE '2026-03-09', NULL::DATE),
            ('c9', 'lapsed', DATE '2026-03-09', DATE '2026-03-10'),
            ('c10', 'vip', DATE '2026-03-09', NULL::DATE)
        ) AS t(customer_id, segment, entered_on, left_on)
        """
    )
    c.execute(
        """
        CREATE TABLE marts.fct_invoices AS SELECT * FROM (VALUES
            ('INV-1', 'c11', 120.50, 'EUR', DATE '2026-03-01', DATE '2026-03-31', true),
            ('INV-2', 'c12', 80.00, 'EUR', DATE '2026-03-01', DATE '2026-03-31', false),
            ('INV-3', NULL, 80.00, 'EUR', DATE '2026-03-01', DATE '2026-03-31', true)
        ) AS t(invoice_id, customer_id, open_amount, currency, issued_on, due_on, is_open)
        """
    )
    yield c
    c.close()


def journey(entry: dict) -> Journey:
    return Journey(
        id="j1", name="j1", entry=entry, start_date="2026-01-01", sender_ids={"default": "X"},
        steps=[{"id": "s", "send": {"templates": {"en": "hi"}}}],
        kind="transactional" if entry["event"] == "invoice_open" else "marketing",
    )  # fmt: skip


@pytest.mark.parametrize(
    "entry, expected",
    [
        ({"event": "checkout_abandoned", "within_hours": 24}, {"checkout:1"}),
        ({"event": "checkout_abandoned", "within_hours": 72}, {"checkout:1", "checkout:2"}),
        ({"event": "first_order"}, {"order:1"}),
        ({"event": "order"}, {"order:1", "order:2"}),
        ({"event": "order", "category": "TOY"}, {"order:1"}),
        ({"event": "opt_in"}, {"consent:1"}),
        ({"event": "reply_keyword", "keywords": ["info"]}, {"reply:1"}),
        ({"event": "segment_entered", "segment": "lapsed"}, {"segment:lapsed:2026-03-09"}),
        ({"event": "invoice_open", "within_hours": 2160}, {"invoice:INV-1"}),
    ],
)
def test_a_trigger_selects_its_events_and_no_other(conn, entry, expected):
    found = triggered(conn, journey(entry), NOW)
    assert set(found["entry_key"]) == expected
    if entry["event"] == "invoice_open":
        row = found.iloc[0]
        assert (row["invoice_id"], float(row["amount"]), str(row["due_on"])[:10]) == (
            "INV-1", 120.5, "2026-03-31",
        )  # fmt: skip
