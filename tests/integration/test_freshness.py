"""The stale-data warning: the newest purchase against the day the marts describe."""

import datetime as dt

import duckdb
import pytest

from dagster_project.transform.freshness import read_freshness

AS_OF = dt.date(2026, 11, 22)


def marts(orders: list[tuple[str, bool]], as_of: dt.date | None = AS_OF):
    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA marts")
    conn.execute("CREATE TABLE marts.fct_orders (ordered_at TIMESTAMP, is_purchase BOOLEAN)")
    conn.executemany("INSERT INTO marts.fct_orders VALUES (?::TIMESTAMP, ?)", orders)
    conn.execute("CREATE TABLE marts.dim_customer_lifecycle (customer_id TEXT, as_of_date DATE)")
    if as_of:
        conn.execute("INSERT INTO marts.dim_customer_lifecycle VALUES ('c1', ?)", [as_of])
    return conn


@pytest.mark.parametrize("days_before, stale", [(0, False), (30, False), (31, True)])
def test_the_warning_starts_past_the_threshold(days_before, stale):
    newest = dt.datetime.combine(AS_OF - dt.timedelta(days=days_before), dt.time(12))
    freshness = read_freshness(marts([(str(newest), True)]), stale_after_days=30)
    assert freshness.as_of == AS_OF and freshness.days_behind == days_before
    assert freshness.stale is stale and bool(freshness.warning()) is stale


def test_cancelled_orders_and_later_purchases_are_not_the_newest_purchase():
    conn = marts([
        ("2026-08-01 10:00", True),
        ("2026-11-20 10:00", False),  # cancelled: not a purchase
        ("2026-11-25 10:00", True),  # after the as-of day: the marts do not count it
    ])  # fmt: skip
    freshness = read_freshness(conn, stale_after_days=30)
    assert freshness.newest_purchase_on == dt.date(2026, 8, 1)
    assert freshness.newest_purchase_at == dt.datetime(2026, 8, 1, 10)
    assert freshness.purchases_after == 1
    assert freshness.warning().startswith(
        "the newest purchase (2026-08-01) is 113 days before the day the marts describe "
        "(2026-11-22)"
    )
    assert "--as-of 2026-08-01" in freshness.warning()
    assert freshness.metadata()["stale_data_warning"] == freshness.warning()


def test_no_purchase_before_the_as_of_day_is_a_warning_too():
    freshness = read_freshness(marts([("2026-12-01 10:00", True)]), stale_after_days=30)
    assert freshness.newest_purchase_on is None and freshness.stale
    assert "see no purchase on or before that day" in freshness.warning()


def test_the_threshold_is_a_setting(monkeypatch):
    conn = marts([("2026-11-01 10:00", True)])  # 21 days before
    monkeypatch.setenv("SMS_STALE_AFTER_DAYS", "20")
    assert read_freshness(conn).stale
    monkeypatch.setenv("SMS_STALE_AFTER_DAYS", "21")
    assert not read_freshness(conn).stale


def test_without_the_marts_there_is_nothing_to_say():
    assert read_freshness(duckdb.connect()) is None


def test_the_purchase_day_column_is_preferred_to_the_utc_date():
    """fct_orders.ordered_on is the day a purchase counts on (the store's local day)."""
    conn = duckdb.connect()
    conn.execute("CREATE SCHEMA marts")
    conn.execute(
        "CREATE TABLE marts.fct_orders AS SELECT TIMESTAMP '2026-11-23 02:00' AS ordered_at, "
        "DATE '2026-11-22' AS ordered_on, true AS is_purchase"
    )  # 21:00 in New York on the 22nd: after the as-of day in UTC, on it locally
    conn.execute(
        "CREATE TABLE marts.dim_customer_lifecycle AS SELECT DATE '2026-11-22' AS as_of_date"
    )
    freshness = read_freshness(conn, stale_after_days=30)
    assert freshness.newest_purchase_on == AS_OF and freshness.days_behind == 0
    assert freshness.newest_purchase_at == dt.datetime(2026, 11, 23, 2)
    assert freshness.purchases_after == 0
