"""The volume band and the demand signal on real DuckDB tables (the suites on pandas batches,
without a warehouse: unit/quality/test_quality_suites.py)."""

from datetime import date, timedelta

import duckdb

from dagster_project.quality import datasets, validation
from dagster_project.quality.checks import EXPECTATIONS_DIR


def suite(name):
    return validation.load_suite(EXPECTATIONS_DIR / f"{name}.json")


def run(frame, name="raw_pos_transactions", phones=("customer_phone",)):
    ds = next(d for d in datasets.ALL_DATASETS if d.suite == name)
    return validation.validate(
        frame, suite(name), phone_columns=phones, example_columns=ds.example_columns
    )


DAY = date(2026, 11, 21)


def volume_warehouse(path, today: dict[str, int], usual: int | dict[str, int] = 300):
    """Every daily raw table with ``usual`` rows a day for five weeks, ``today`` on DAY."""
    conn = duckdb.connect(str(path))
    conn.execute("CREATE SCHEMA raw")
    for table in datasets.DAILY_TABLES:
        conn.execute(f"CREATE TABLE raw.{table} (_partition_date DATE)")
        n = usual.get(table, 40) if isinstance(usual, dict) else usual
        days = [(DAY - timedelta(days=k), today.get(table, n) if k == 0 else n) for k in range(36)]
        for d, n in days:
            conn.execute(f"INSERT INTO raw.{table} SELECT ?::DATE FROM range(?)", [d, n])
    return conn


def volume(conn, table):
    ds = next(d for d in datasets.VOLUME_DATASETS if d.asset[1] == table)
    return run(datasets.fetch(conn, ds, DAY, DAY), "raw_daily_volume", ())


def test_a_source_sending_half_its_volume_fails_the_volume_gate(tmp_path):
    conn = volume_warehouse(tmp_path / "w.duckdb", {"pos_transactions": 150})
    out = volume(conn, "pos_transactions")
    assert out.gate_failed, out.reason()
    assert out.failed[0].column == "relative_ratio"
    assert volume(conn, "shop_orders").passed


def test_every_source_dropping_together_is_demand_not_a_failed_export(tmp_path):
    conn = volume_warehouse(tmp_path / "w.duckdb", {t: 120 for t in datasets.DAILY_TABLES})
    out = volume(conn, "pos_transactions")
    assert not out.gate_failed  # relative ratio 1: no gate
    assert out.passed  # 0.4 of usual is inside the warning band too


def test_small_sources_are_not_judged_on_volume(tmp_path):
    conn = volume_warehouse(tmp_path / "w.duckdb", {"crm_tickets": 5}, usual=40)
    assert volume(conn, "crm_tickets").passed


def demand(conn, table):
    ds = next(d for d in datasets.DEMAND_DATASETS if d.asset[1] == table)
    return run(datasets.fetch(conn, ds, DAY, DAY), "raw_daily_demand", ())


def test_a_small_shop_whose_every_export_shrank_together_gets_a_warning(tmp_path):
    usual = {"pos_transactions": 60, "shop_orders": 30, "shop_checkouts": 20}
    shrunk = {"pos_transactions": 5, "shop_orders": 0, "shop_checkouts": 0}
    conn = volume_warehouse(tmp_path / "w.duckdb", shrunk, usual)
    # Each source is below the volume band's floor, and they moved together: no band fires.
    assert all(volume(conn, t).passed for t in datasets.VOLUME_TABLES)
    for table in ("pos_transactions", "shop_orders", "shop_checkouts"):
        out = demand(conn, table)
        assert not out.passed and not out.gate_failed and out.severity == "WARN"
        [failed] = out.failed
        assert failed.column == "demand_ratio"
        [example] = failed.examples
        assert (example["demand_rows"], example["demand_baseline_rows"]) == (5, 110)
    assert "demand_ratio" in demand(conn, "shop_orders").reason()

    usual_day = volume_warehouse(tmp_path / "ok.duckdb", {}, usual)
    assert demand(usual_day, "pos_transactions").passed


def test_a_large_drop_of_every_source_within_the_band_is_no_demand_warning(tmp_path):
    conn = volume_warehouse(tmp_path / "w.duckdb", {t: 120 for t in datasets.DAILY_TABLES})
    assert demand(conn, "pos_transactions").passed  # 0.4 of usual


def test_a_low_volume_source_has_no_volume_band_but_its_quarantine_is_gated():
    # A few invoices a day, none on many days: a weekday median of two would flag every
    # quiet day. The exclusion is explicit, and the quarantine share still applies.
    volume_tables = {d.asset[1] for d in datasets.VOLUME_DATASETS}
    quarantine_tables = {d.asset[1] for d in datasets.QUARANTINE_DATASETS}
    assert "pos_invoices" not in volume_tables
    assert "pos_invoices" in quarantine_tables
    assert volume_tables == set(datasets.DAILY_TABLES) - set(datasets.LOW_VOLUME_TABLES)
