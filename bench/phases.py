"""One benchmark phase, run in its own process so its peak memory is its own.

    python -m bench.phases PHASE --dir DIR [--customers N --days D]

PHASE is generate, ingest, floor, dbt_full, dbt_daily, checks, dbt_floor,
journey_latency, daily_e2e (bench/daily.py) or dispatch (independent of the data size:
see bench/dispatch.py).

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
    """The real path: Dagster materializations of every ingest asset, one run for the range.

    Without the Great Expectations gates: those have a phase of their own (``checks``, the
    gates of a daily run), and a backfill's gates validate the whole range as one batch. The
    loads' own checks (files quarantined, layout, ...) are part of the load and stay.
    """
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
    from dagster_project.quality import raw_checks
    from dagster_project.warehouse import connection

    start, end = landing_range()
    gates = AssetSelection.checks(*raw_checks)  # the GX suites; the loads' own checks stay
    t = time.perf_counter()
    with DagsterInstance.ephemeral() as instance:
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        assert materialize_selection(
            AssetSelection.assets(*reference_assets) - gates,
            instance=instance,
            run_config=quiet,
        ).success
        assert materialize_selection(
            AssetSelection.assets(*daily_assets) - gates,
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


def spark_full(base: Path) -> dict:
    """The same dbt project on a local Spark (issue 14): the warehouse's source tables
    exported as Parquet, then ``dbt build --target spark`` (every model and data test; the
    incremental models are tables there, so every Spark build is a full one)."""
    import duckdb

    from dagster_project.spark import raw_tables
    from dagster_project.spark.build import run_dbt_spark

    os.environ["SMS_SPARK_DIR"] = str(base / "spark")
    as_of = (END + timedelta(days=1)).isoformat()
    t = time.perf_counter()
    with duckdb.connect(str(base / "warehouse.duckdb"), read_only=True) as conn:
        exported = raw_tables.export_tables(conn, base / "spark" / "tables")
        order_lines = conn.execute("select count(*) from marts.fct_order_lines").fetchone()[0]
    export_s = time.perf_counter() - t
    t = time.perf_counter()
    run_dbt_spark("build", work_dir=base, as_of=as_of)
    build_s = time.perf_counter() - t
    return {
        "seconds": export_s + build_s,
        "export_seconds": export_s,
        "build_seconds": build_s,
        "exported_rows": sum(e.rows for e in exported),
        "order_lines": order_lines,
    }


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


# The checkouts the latency phase leaves at 10:05 on the day after the data, and the moment
# their hourly cut has landed: the journey's hour is up at 11:05.
LEFT_AT = "10:05:00"
LANDED_AT = "11:05:00"


def journey_latency(base: Path, carts: int = 20) -> dict:
    """From a landed intra-day checkouts file to the reminders accepted by the gateway.

    On a copy of the built warehouse: ``carts`` abandoned checkouts of opted-in customers
    in European zones (their window is open at 11:05 UTC) are written as the 11:00 cut of
    the day after the data, as the shop's hourly export would land them. Timed, as the
    landing sensor and the journeys sensor would run it: the day's ingest of that source,
    then the journeys job (outcome events, consent files, the event stream's dbt models,
    the advance and its gates) and the dispatch job it starts (through the sandbox). The
    seconds are the pipeline's share of the delay; the rest is the journey's own hour and
    the export's cut.
    """
    import shutil

    scratch = base / "latency"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    shutil.copy(base / "warehouse.duckdb", scratch / "warehouse.duckdb")
    shutil.copytree(base / "landing", scratch / "landing", symlinks=True)
    os.environ["SMS_DATA_DIR"] = str(scratch)
    os.environ["SMS_LANDING_DIR"] = str(scratch / "landing")
    os.environ["SMS_WAREHOUSE_PATH"] = str(scratch / "warehouse.duckdb")
    os.environ.setdefault("SMS_PARTITION_START", "2020-01-01")
    from dagster import AssetSelection, DagsterInstance

    from dagster_project.activation.gateway.resource import GatewayResource
    from dagster_project.activation.jobs import dispatch_job
    from dagster_project.definitions import materialize_selection
    from dagster_project.ingest.assets import raw_key
    from dagster_project.journeys.assets import JOURNEYS_SELECTION
    from dagster_project.transform import dbt_models
    from dagster_project.warehouse import connection

    day = END + timedelta(days=1)
    with connection(scratch / "warehouse.duckdb") as conn:
        people = conn.execute(
            """
            SELECT c.customer_id, r.phone_e164
            FROM marts.dim_customers AS c
            JOIN marts.dim_sms_reachability AS r ON r.phone_e164 = c.phone_e164
            WHERE r.may_receive_marketing
              AND (r.phone_e164 LIKE '+49%' OR r.phone_e164 LIKE '+44%')
              AND c.time_zone LIKE 'Europe/%'
            ORDER BY c.customer_id LIMIT ?
            """,
            [carts],
        ).fetchall()
        [(sku,)] = conn.execute(
            "SELECT sku FROM raw.shop_products WHERE sku IS NOT NULL ORDER BY sku LIMIT 1"
        ).fetchall()
    folder = scratch / "landing" / "shop" / "checkouts" / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"checkouts-{day}-1100.jsonl").open("w") as f:
        for i, (_, phone) in enumerate(people):
            at = f"{day}T{LEFT_AT}+00:00"
            f.write(json.dumps({
                "id": 39_000_000_000_000 + i, "token": f"latency{i}", "email": None,
                "phone": phone, "created_at": at, "updated_at": at, "completed_at": None,
                "currency": "EUR", "total_price": "49.00", "customer": None,
                "shipping_address": {"country_code": "DE" if phone.startswith("+49") else "GB"},
                "line_items": [{"sku": sku, "product_id": 1, "title": "Bench item",
                                "quantity": 1, "price": "49.00"}],
            }) + "\n")  # fmt: skip
    now = f"{day}T{LANDED_AT}+00:00"
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    ops = {
        "activation__journeys": {"config": {"now": now}},
        "activation__dispatch": {"config": {"now": now}},
        "ingest__crm_consent_catch_up": {"config": {"now": now}},
        dbt_models.op.name: {"config": {"as_of": day.isoformat()}},
    }
    with DagsterInstance.ephemeral() as instance:
        t = time.perf_counter()
        assert materialize_selection(
            AssetSelection.assets(raw_key("shop_checkouts")),
            instance=instance,
            partition_key=day.isoformat(),
            run_config=quiet,
        ).success
        loaded = time.perf_counter() - t
        runs = [
            materialize_selection(
                selection,
                instance=instance,
                resources={"gateway": GatewayResource(kind="sandbox")},
                run_config={**quiet, "ops": {k: v for k, v in ops.items() if k in wanted}},
            )
            for selection, wanted in (
                (JOURNEYS_SELECTION, set(ops) - {"activation__dispatch"}),
                (dispatch_job.selection, {"activation__dispatch", "ingest__crm_consent_catch_up"}),
            )
        ]
        seconds = time.perf_counter() - t
    assert all(r.success for r in runs)
    steps = {
        e.step_key: e.event_specific_data.duration_ms / 1000
        for r in runs
        for e in r.all_events
        if e.event_type_value == "STEP_SUCCESS" and e.event_specific_data
    }
    outbox = scratch / "sandbox_gateway" / "outbox.jsonl"
    sent = [json.loads(x) for x in outbox.read_text().splitlines()] if outbox.exists() else []
    reminders = [m for m in sent if "|checkout:39" in m["key"]]  # the carts left here
    with connection(scratch / "warehouse.duckdb", read_only=True) as conn:
        held = conn.execute(
            "SELECT count(*) FROM sms.ledger WHERE campaign_id = 'abandoned-checkout-series' "
            "AND journey_entry LIKE 'checkout:39%' AND state = 'held_out'"
        ).fetchall()[0][0]
    return {
        "seconds": seconds,
        "ingest_seconds": loaded,
        "advance_and_dispatch_seconds": seconds - loaded,
        "steps": steps,
        "carts": len(people),
        "reminders_accepted": len(reminders),
        "held_out": held,
        "left_at": LEFT_AT,
        "landed_at": LANDED_AT,
    }


def daily_e2e(base: Path) -> dict:
    """A whole daily run of the user's schedule on a copy of the built warehouse
    (bench/daily.py): load, dbt, gates, publish, plans, journeys."""
    from bench import daily

    return daily.run_day(base, END)


def dispatch(base: Path, messages: int) -> dict:
    """The gateway sender against a local gateway, beside a bare httpx loop (bench/dispatch.py)."""
    from bench import dispatch as bench_dispatch

    return bench_dispatch.run(messages)


def opstore(base: Path, messages: int, workers: list[int], sync_rows: int) -> dict:
    """Dispatch throughput on the embedded store and on PostgreSQL with 1, 2, 4 workers; the
    warehouse sync of a large ledger (bench/opstore.py)."""
    from bench import opstore as bench_opstore

    return bench_opstore.run(base, messages, workers, sync_rows)


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
            "journey_latency",
            "daily_e2e",
            "spark_full",
            "dispatch",
            "opstore",
        ],  # fmt: skip
    )
    p.add_argument("--dir", type=Path, required=True)
    p.add_argument("--customers", type=int, default=0)
    p.add_argument("--days", type=int, default=730)
    p.add_argument("--messages", type=int, default=100_000, help="dispatch: messages sent")
    p.add_argument(
        "--opstore-messages", type=int, default=50_000, help="opstore: messages per measurement"
    )
    p.add_argument("--workers", default="1,2,4", help="opstore: PostgreSQL worker counts")
    p.add_argument("--sync-rows", type=int, default=1_000_000, help="opstore: ledger rows synced")
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
    elif a.phase == "journey_latency":
        out = journey_latency(a.dir)
    elif a.phase == "dispatch":
        out = dispatch(a.dir, a.messages)
    elif a.phase == "opstore":
        workers = [int(w) for w in a.workers.split(",") if w.strip()]
        out = opstore(a.dir, a.opstore_messages, workers, a.sync_rows)
    else:
        phases = {
            "dbt_full": dbt_full,
            "dbt_daily": dbt_daily,
            "checks": checks,
            "dbt_floor": dbt_floor,
            "daily_e2e": daily_e2e,
            "spark_full": spark_full,
        }
        out = phases[a.phase](a.dir)
    print("BENCH " + json.dumps(out, default=str))


if __name__ == "__main__":
    main()
