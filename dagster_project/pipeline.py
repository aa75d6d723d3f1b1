"""Command line for running the pipeline outside the UI (``make demo`` uses it).

    python -m dagster_project.pipeline ingest [--start DAY] [--end DAY]
    python -m dagster_project.pipeline summary

``ingest`` materializes the reference snapshots, then every delivery day found
in the landing folder as one single-run backfill, on the Dagster instance in
``$DAGSTER_HOME`` (so the runs show in ``make dev``). ``summary`` prints rows
loaded per source and rows rejected and why, reading the warehouse read-only.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date

from dagster import AssetSelection, DagsterInstance, materialize

from dagster_project import settings
from dagster_project.ingest import loader
from dagster_project.ingest.assets import daily_assets, daily_partitions, reference_assets
from dagster_project.ingest.jobs import RANGE_END_TAG, RANGE_START_TAG
from dagster_project.ingest.specs import DAILY_SPECS
from dagster_project.publish import analytics_snapshot
from dagster_project.warehouse import WarehouseResource, connection

# Step events at DEBUG drown the story in a terminal; the UI keeps everything.
_QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def landing_range() -> tuple[date, date] | None:
    days = [d for spec in DAILY_SPECS for d in loader.day_folders(settings.landing_dir(), spec)]
    return (min(days), max(days)) if days else None


def ingest(start: date | None, end: date | None) -> None:
    instance = DagsterInstance.get()
    resources = {"warehouse": WarehouseResource()}
    result = materialize(
        reference_assets, instance=instance, resources=resources, run_config=_QUIET
    )
    if not result.success:
        sys.exit("loading the reference snapshots failed; see the run in the Dagster UI")
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
    result = materialize(
        [*daily_assets, *reference_assets],
        selection=AssetSelection.assets(*daily_assets),
        instance=instance,
        resources=resources,
        run_config=_QUIET,
        tags={RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: end.isoformat()},
    )
    if not result.success:
        sys.exit("ingestion failed; see the run in the Dagster UI (make dev)")
    result = materialize(
        [analytics_snapshot], instance=instance, resources=resources, run_config=_QUIET
    )
    if not result.success:
        sys.exit("publishing the analysts' copy failed; see the run in the Dagster UI")
    print(f"analysts' copy: {settings.published_path()}")


def summary() -> None:
    with connection(read_only=True) as conn:
        s = loader.load_summary(conn)
    width = max(len(t) for t in s["rows"]) if s["rows"] else 10
    print("\nRows loaded (raw.*)")
    for table, n in s["rows"].items():
        print(f"  {table:<{width}}  {n:>12,}")
    total = sum(r[3] for r in s["rejects"])
    print(f"\nRows rejected: {total:,} (details in ingest.rejects: file, line, column, reason)")
    for entity, kind, column, n in s["rejects"]:
        print(f"  {entity:<{width}}  {kind:<16} {column:<28} {n:>8,}")
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
    p_ingest = sub.add_parser("ingest", help="load reference files and every landed day")
    p_ingest.add_argument(
        "--start", type=date.fromisoformat, help="first delivery day (default: earliest landed)"
    )
    p_ingest.add_argument(
        "--end", type=date.fromisoformat, help="last delivery day (default: latest landed)"
    )
    sub.add_parser("summary", help="rows loaded and rejected, from the warehouse")
    args = parser.parse_args(argv)
    if args.command == "ingest":
        ingest(args.start, args.end)
    else:
        summary()


if __name__ == "__main__":
    main()
