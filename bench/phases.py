"""One benchmark phase, run in its own process so its peak memory is its own.

    python -m bench.phases PHASE --dir DIR [--customers N --days D]

PHASE is generate, ingest, floor, dbt_full, dbt_daily, checks, dbt_floor or
dispatch (independent of the data size: see bench/dispatch.py).

Prints one JSON line with the phase's figures on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from datetime import date, timedelta
from pathlib import Path

END = date(2026, 10, 31)  # fixed, so every run measures the same data


def generate(base: Path, customers: int, days: int) -> dict:
    from demo import generate as gen

    t = time.perf_counter()
    summary = gen(
        out=base / "landing",
        truth_dir=base / "truth",
        customers=customers,
        days=days,
        seed=1,
        end=END,
    )
    return {"seconds": time.perf_counter() - t, "summary": _plain(summary)}


def ingest(base: Path) -> dict:
    """The real path: Dagster materializations of every ingest asset, one run for the range."""
    os.environ["SMS_LANDING_DIR"] = str(base / "landing")
    os.environ["SMS_WAREHOUSE_PATH"] = str(base / "warehouse.duckdb")
    os.environ.setdefault("SMS_PARTITION_START", "2020-01-01")
    for suffix in ("", ".wal"):
        Path(str(base / "warehouse.duckdb") + suffix).unlink(missing_ok=True)
    from dagster import AssetSelection, DagsterInstance

    from dagster_project.definitions import materialize_selection
    from dagster_project.ingest.assets import daily_assets, reference_assets
    from dagster_project.ingest.jobs import RANGE_END_TAG, RANGE_START_TAG
    from dagster_project.pipeline import landing_range
    from dagster_project.warehouse import connection

    start, end = landing_range()
    t = time.perf_counter()
    with DagsterInstance.ephemeral() as instance:
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        assert materialize_selection(
            AssetSelection.assets(*reference_assets), instance=instance, run_config=quiet
        ).success
        assert materialize_selection(
            AssetSelection.assets(*daily_assets),
            instance=instance,
            run_config=quiet,
            tags={RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: end.isoformat()},
        ).success
    seconds = time.perf_counter() - t
    with connection(base / "warehouse.duckdb", read_only=True) as conn:
        rows = conn.execute(
            "SELECT sum(rows_loaded), sum(rows_rejected), sum(files) FROM ingest.load_log"
        ).fetchone()
        lines = conn.execute(
            "SELECT (SELECT count(*) FROM raw.pos_transactions) + "
            "(SELECT coalesce(sum(len(line_items)), 0) FROM raw.shop_orders)"
        ).fetchone()[0]
    return {
        "seconds": seconds,
        "rows_loaded": rows[0],
        "rows_rejected": rows[1],
        "files": rows[2],
        "order_lines": lines,
        "partitions": (end - start).days + 1,
    }


def floor(base: Path) -> dict:
    """Bare DuckDB over the same files: CREATE TABLE AS SELECT * FROM read_csv/read_json."""
    import duckdb

    db = base / "floor.duckdb"
    for suffix in ("", ".wal"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    landing = base / "landing"
    t = time.perf_counter()
    conn = duckdb.connect(str(db))
    for name, pattern, reader in [
        ("pos_stores", "pos/stores.csv", "read_csv"),
        ("shop_products", "shop/products.csv", "read_csv"),
        ("pos_transactions", "pos/transactions/*/*.csv", "read_csv"),
        ("crm_contacts", "crm/contacts/*/*.csv", "read_csv"),
        ("pos_invoices", "pos/invoices/*/*.csv", "read_csv"),
        ("crm_tickets", "crm/tickets/*/*.csv", "read_csv"),
        ("crm_consent", "crm/consent/*/*.jsonl", "read_json"),
        ("shop_orders", "shop/orders/*/*.jsonl", "read_json"),
        ("shop_checkouts", "shop/checkouts/*/*.jsonl", "read_json"),
    ]:
        extra = (
            ", format = 'newline_delimited'" if reader == "read_json" else ", union_by_name = true"
        )
        conn.execute(
            f"CREATE TABLE {name} AS SELECT * FROM {reader}('{landing / pattern}', "
            f"ignore_errors = true{extra})"
        )
    conn.close()
    return {"seconds": time.perf_counter() - t}


def _dbt(base: Path, *args: str) -> float:
    """Run the dbt CLI on the bench warehouse; returns wall seconds."""
    from dagster_project.transform import run_dbt

    as_of = (END + timedelta(days=1)).isoformat()
    t = time.perf_counter()
    run_dbt("build", *args, warehouse=base / "warehouse.duckdb", work_dir=base, as_of=as_of)
    return time.perf_counter() - t


def dbt_full(base: Path) -> dict:
    """dbt build --full-refresh over everything ingested."""
    return {"seconds": _dbt(base, "--full-refresh")}


def dbt_daily(base: Path) -> dict:
    """A daily run: the last delivery day arrives (re-delivered here), then dbt build.

    Only the load of that day is outside the timing; incremental models pick up
    the rows whose _loaded_at is newer than what they hold.
    """
    from dagster_project.ingest import loader
    from dagster_project.ingest.specs import DAILY_SPECS
    from dagster_project.warehouse import connection

    with connection(base / "warehouse.duckdb") as conn:
        rows = sum(
            loader.load(conn, spec, base / "landing", END, END).rows_loaded for spec in DAILY_SPECS
        )
    return {"seconds": _dbt(base), "day_rows": rows}


def checks(base: Path) -> dict:
    """The data-quality checks of a daily run, through Dagster (ephemeral instance).

    The raw gates on the last delivery day, the volume band of every daily source
    and the three mart gates, with their Data Docs pages: what a daily run adds.
    """
    os.environ["SMS_WAREHOUSE_PATH"] = str(base / "warehouse.duckdb")
    os.environ["SMS_DATA_DIR"] = str(base)  # Data Docs under <base>/gx
    from dagster import AssetSelection, DagsterInstance

    from dagster_project.definitions import materialize_selection
    from dagster_project.quality import mart_checks, raw_checks

    gx_checks = [*raw_checks, *mart_checks]
    t = time.perf_counter()
    with DagsterInstance.ephemeral() as instance:
        result = materialize_selection(
            AssetSelection.checks(*gx_checks),
            instance=instance,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            raise_on_error=False,
        )
    seconds = time.perf_counter() - t
    evaluations = result.get_asset_check_evaluations()
    rows = {
        f"{e.asset_key.to_user_string()}:{e.check_name}": getattr(
            e.metadata.get("rows"), "value", None
        )
        for e in evaluations
    }
    return {
        "seconds": seconds,
        "checks": len(evaluations),
        "failed": sorted(k for e in evaluations if not e.passed for k in [e.check_name]),
        "rows_validated": sum(v or 0 for v in rows.values()),
        "rows": rows,
    }


def dbt_floor(base: Path) -> dict:
    """The hand-written script (bench/floor_customers.sql) on the same raw tables.

    With the settings dbt runs under (dbt/profiles.yml: the pipeline's memory cap, no
    insertion order): left to DuckDB's default cap it uses far more memory at L than any
    other part of the pipeline may (see bench/README.md).
    """
    import duckdb

    from dagster_project import settings

    as_of = (END + timedelta(days=1)).isoformat()
    script = (Path(__file__).with_name("floor_customers.sql")).read_text()
    script = script.replace("$as_of", f"DATE '{as_of}'")
    t = time.perf_counter()
    conn = duckdb.connect(
        str(base / "warehouse.duckdb"),
        config={
            "memory_limit": settings.duckdb_memory_limit(),
            "preserve_insertion_order": False,
        },
    )
    conn.execute(script)
    customers = conn.execute("SELECT count(*) FROM floor_customers").fetchone()[0]
    conn.execute("DROP TABLE floor_customers")
    conn.close()
    return {"seconds": time.perf_counter() - t, "customers": customers}


def dispatch(base: Path, messages: int) -> dict:
    """The gateway sender against a local gateway, beside a bare httpx loop (bench/dispatch.py)."""
    from bench import dispatch as bench_dispatch

    return bench_dispatch.run(messages)


def _plain(obj):
    if hasattr(obj, "__dataclass_fields__"):
        from dataclasses import asdict

        return json.loads(json.dumps(asdict(obj), default=str))
    return obj


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument(
        "phase",
        choices=[
            "generate",
            "ingest",
            "floor",
            "dbt_full",
            "dbt_daily",
            "checks",
            "dbt_floor",
            "dispatch",
        ],  # fmt: skip
    )
    p.add_argument("--dir", type=Path, required=True)
    p.add_argument("--customers", type=int, default=0)
    p.add_argument("--days", type=int, default=730)
    p.add_argument("--messages", type=int, default=100_000, help="dispatch: messages sent")
    a = p.parse_args()
    # absolute, because dbt resolves a relative --target-path against its project dir
    a.dir = a.dir.resolve()
    a.dir.mkdir(parents=True, exist_ok=True)
    if a.phase == "generate":
        out = generate(a.dir, a.customers, a.days)
    elif a.phase == "ingest":
        out = ingest(a.dir)
    elif a.phase == "floor":
        out = floor(a.dir)
    elif a.phase == "dispatch":
        out = dispatch(a.dir, a.messages)
    else:
        phases = {
            "dbt_full": dbt_full,
            "dbt_daily": dbt_daily,
            "checks": checks,
            "dbt_floor": dbt_floor,
        }
        out = phases[a.phase](a.dir)
    print("BENCH " + json.dumps(out, default=str))


if __name__ == "__main__":
    main()
