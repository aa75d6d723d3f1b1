"""Command line for running the pipeline outside the UI (``make demo`` uses it).

    python -m dagster_project.pipeline all [--start DAY] [--end DAY]
    python -m dagster_project.pipeline ingest [--start DAY] [--end DAY]
    python -m dagster_project.pipeline transform
    python -m dagster_project.pipeline publish
    python -m dagster_project.pipeline summary

``ingest`` materializes the reference snapshots, then every delivery day found
in the landing folder as one single-run backfill; ``transform`` runs
``dbt build``; ``publish`` refreshes the analysts' read-only copy;
``activate`` plans today's campaigns and sends what is due through the
configured gateway (the sandbox by default); ``all`` does the four in order.
Runs go to the Dagster instance in ``$DAGSTER_HOME``, so they show in
``make dev``. ``summary`` prints rows loaded and rejected per
source and customers per lifecycle stage and segment, reading the published
copy (never the live warehouse).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

import duckdb
from dagster import AssetSelection, DagsterInstance, materialize

from dagster_project import settings
from dagster_project.activation import plan_assets, plan_checks, sms_dispatch
from dagster_project.activation.gateway.resource import gateway_from_env
from dagster_project.ingest import loader
from dagster_project.ingest.assets import daily_assets, daily_partitions, reference_assets
from dagster_project.ingest.jobs import RANGE_END_TAG, RANGE_START_TAG
from dagster_project.ingest.specs import DAILY_SPECS
from dagster_project.publish import analytics_snapshot
from dagster_project.quality import mart_checks, raw_checks
from dagster_project.transform import dbt_models, dbt_resource
from dagster_project.warehouse import WarehouseResource, connection

# Step events at DEBUG drown the story in a terminal; the UI keeps everything.
_QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
_ALL_ASSETS = [
    *reference_assets,
    *daily_assets,
    dbt_models,
    analytics_snapshot,
    *plan_assets,
    sms_dispatch,
    *raw_checks,
    *mart_checks,
    *plan_checks,
]
# Every data-quality check evaluated by this process's runs, for the closing table.
_EVALUATIONS: list = []


def _resources() -> dict:
    return {"warehouse": WarehouseResource(), "dbt": dbt_resource(), "gateway": gateway_from_env()}


def _run(selection, instance: DagsterInstance, what: str, **kwargs):
    result = materialize(
        _ALL_ASSETS,
        selection=selection,
        instance=instance,
        resources=_resources(),
        run_config=_QUIET,
        raise_on_error=False,
        **kwargs,
    )
    evaluations = result.get_asset_check_evaluations()
    _EVALUATIONS.extend(e for e in evaluations if e.check_name in _GX_CHECKS)
    if result.success:
        return result
    for e in evaluations:
        if not e.passed:
            reason = e.metadata.get("reason")
            print(
                f"  check failed: {e.asset_key.to_user_string()}:{e.check_name}"
                f" [{e.severity.value}] {getattr(reason, 'value', reason) or e.description or ''}",
                file=sys.stderr,
            )
    sys.exit(f"{what} failed; the run and its logs are in the Dagster UI (make dev)")


_GX_CHECKS = {
    spec.name for c in [*raw_checks, *mart_checks, *plan_checks] for spec in c.check_specs
}


def print_checks() -> None:
    """One line per data-quality check evaluated in this process's runs."""
    if not _EVALUATIONS:
        return
    print("\nData-quality gates (Great Expectations, expectations/*.json)")
    for e in sorted(_EVALUATIONS, key=lambda e: (e.asset_key.to_user_string(), e.check_name)):
        verdict = "pass" if e.passed else f"FAIL ({e.severity.value})"
        rows = e.metadata.get("rows")
        rows = getattr(rows, "value", rows)
        print(
            f"  {e.asset_key.to_user_string():<36} {e.check_name:<22} {verdict:<13}"
            f" {rows if rows is not None else '':>9} rows"
        )
    docs = settings.data_dir() / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site"
    print(f"  Data Docs: {docs / 'index.html'}")


def landing_range() -> tuple[date, date] | None:
    days = [d for spec in DAILY_SPECS for d in loader.day_folders(settings.landing_dir(), spec)]
    return (min(days), max(days)) if days else None


def ingest(instance: DagsterInstance, start: date | None, end: date | None) -> None:
    _run(AssetSelection.assets(*reference_assets), instance, "loading the reference snapshots")
    found = landing_range()
    if found is None:
        sys.exit(f"no delivery-day folders under {settings.landing_dir()}: nothing to load")
    start, end = start or found[0], end or found[1]
    first = date.fromisoformat(daily_partitions.get_first_partition_key())
    if start < first:
        sys.exit(
            f"landing data starts {start}, before the first partition {first}: "
            f"set SMS_PARTITION_START={start} (or earlier)"
        )
    print(f"loading delivery days {start}..{end} in one run")
    _run(
        AssetSelection.assets(*daily_assets),
        instance,
        "ingestion",
        tags={RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: end.isoformat()},
    )


def transform(instance: DagsterInstance) -> None:
    print("building the dbt models (dbt build)")
    _run(AssetSelection.assets(dbt_models), instance, "dbt build")


def publish(instance: DagsterInstance) -> None:
    _run(AssetSelection.assets(analytics_snapshot), instance, "publishing the analysts' copy")
    print(f"analysts' copy: {settings.published_path()}")


def activate(instance: DagsterInstance) -> None:
    """Plan every campaign for today (UTC), in priority order, then send what is due."""
    day = date.today().isoformat()
    print(f"planning the campaigns for {day} and sending what is due (gateway: sandbox)")
    result = _run(
        AssetSelection.assets(*plan_assets, sms_dispatch),
        instance,
        "planning and sending",
        partition_key=day,
    )
    for event in result.get_asset_materialization_events():
        md = event.materialization.metadata
        key = event.asset_key.to_user_string()
        if key.startswith("activation/plan/"):

            def value(k, md=md):
                return getattr(md.get(k), "value", md.get(k))

            print(
                f"  {key.removeprefix('activation/plan/'):<22} candidates {value('candidates'):>6,}"
                f"  planned {value('planned'):>5,}  deferred {value('deferred'):>5,}"
                f"  held out {value('held_out'):>5,}  skipped {value('skipped'):>6,}"
                f"  cost {value('cost_usd'):>8,.2f} USD"
            )
        elif key == "activation/dispatch":
            v = {k: getattr(x, "value", x) for k, x in md.items()}
            print(
                f"  sent through the {v['gateway']} gateway: {v['accepted']:,} accepted, "
                f"{v['failed']:,} failed, {v['unknown']:,} unknown; "
                f"{v['skipped_at_send_time']:,} skipped at send time; deferred messages go out "
                "when their recipients' windows open (hourly dispatch)"
            )


def _table_exists(conn: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(
        conn.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


def summary() -> None:
    path = settings.published_path()
    if not path.exists():
        path = settings.warehouse_path()
    with connection(path, read_only=True) as conn:
        s = loader.load_summary(conn)
        width = max((len(t) for t in s["rows"]), default=10)
        print("\nRows loaded (raw.*)")
        for table, n in s["rows"].items():
            print(f"  {table:<{width}}  {n:>12,}")
        total = sum(r[3] for r in s["rejects"])
        print(f"\nRows rejected: {total:,} (details in ingest.rejects: file, line, column, reason)")
        for entity, kind, column, n in s["rejects"]:
            print(f"  {entity:<{width}}  {kind:<16} {column:<28} {n:>8,}")
        if _table_exists(conn, "marts", "customer_lifecycle"):
            print("\nCustomers per lifecycle stage")
            for stage, n in conn.execute(
                "SELECT lifecycle_stage, count(*) FROM marts.customer_lifecycle "
                "GROUP BY 1 ORDER BY 2 DESC"
            ).fetchall():
                print(f"  {stage:<20} {n:>10,}")
        if _table_exists(conn, "marts", "customer_segments"):
            print("\nCustomers per segment")
            for segment, n in conn.execute(
                "SELECT segment, count(DISTINCT customer_id) FROM marts.customer_segments "
                "GROUP BY 1 ORDER BY 2 DESC"
            ).fetchall():
                print(f"  {segment:<24} {n:>10,}")
    print(
        f"\nWarehouse: {settings.warehouse_path()}\n"
        f"Analysts' read-only copy: {settings.published_path()}\n"
        "Open the Dagster UI with `make dev` (http://127.0.0.1:3000)."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m dagster_project.pipeline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in [("all", "ingest, transform and publish"), ("ingest", "load landed files")]:
        p = sub.add_parser(name, help=text)
        p.add_argument("--start", type=date.fromisoformat, help="first delivery day")
        p.add_argument("--end", type=date.fromisoformat, help="last delivery day")
    sub.add_parser("transform", help="dbt build")
    sub.add_parser("publish", help="refresh the analysts' read-only copy")
    sub.add_parser("activate", help="plan today's campaigns and send what is due (sandbox)")
    sub.add_parser("summary", help="rows loaded and rejected, customers per stage and segment")
    args = parser.parse_args(argv)
    if args.command == "summary":
        summary()
        return
    instance = DagsterInstance.get()
    if args.command in ("all", "ingest"):
        ingest(instance, args.start, args.end)
    if args.command in ("all", "transform"):
        transform(instance)
    if args.command in ("all", "publish"):
        publish(instance)
    if args.command in ("all", "activate"):
        activate(instance)
    print_checks()


if __name__ == "__main__":
    main()
