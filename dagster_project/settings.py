"""Where things live: the one module that owns paths and process-wide switches.

Every path comes from an environment variable with a default under ``data/``
(git-ignored) at the repository root, so Dagster, dbt (``dbt/profiles.yml``
reads ``SMS_WAREHOUSE_PATH``), the CLIs and the tests all agree.

| variable              | default                         | what                                  |
| --------------------- | ------------------------------- | ------------------------------------- |
| ``SMS_DATA_DIR``      | ``<repo>/data``                 | root of everything generated          |
| ``SMS_WAREHOUSE_PATH``| ``$SMS_DATA_DIR/warehouse.duckdb`` | the DuckDB warehouse file          |
| ``SMS_LANDING_DIR``   | ``$SMS_DATA_DIR/landing``       | where source exports are dropped      |
| ``SMS_WEBHOOK_DIR``   | ``$SMS_DATA_DIR/webhooks``      | receiver's event log and link registry|
| ``DAGSTER_HOME``      | ``$SMS_DATA_DIR/dagster_home``  | Dagster instance (runs, event log)    |
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Telemetry off before any of these libraries is imported by a caller of this
# package. No network call may leave the machine except to configured
# sources and gateways. (Dagster's own switch is in dagster.yaml.)
_TELEMETRY_OFF = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    "GX_ANALYTICS_ENABLED": "False",
    "DAGSTER_DISABLE_TELEMETRY": "1",
}


def disable_telemetry() -> None:
    for key, value in _TELEMETRY_OFF.items():
        os.environ.setdefault(key, value)


def data_dir() -> Path:
    return Path(os.environ.get("SMS_DATA_DIR", REPO_ROOT / "data")).resolve()


def warehouse_path() -> Path:
    default = data_dir() / "warehouse.duckdb"
    return Path(os.environ.get("SMS_WAREHOUSE_PATH", default)).resolve()


def landing_dir() -> Path:
    return Path(os.environ.get("SMS_LANDING_DIR", data_dir() / "landing")).resolve()


def webhooks_dir() -> Path:
    """The webhook receiver's files: the landing log of events and the link registry."""
    return Path(os.environ.get("SMS_WEBHOOK_DIR", data_dir() / "webhooks")).resolve()


def events_dir() -> Path:
    """The receiver's append-only landing log (``events-YYYY-MM-DD.jsonl``)."""
    return webhooks_dir() / "events"


def dagster_home() -> Path:
    return Path(os.environ.get("DAGSTER_HOME", data_dir() / "dagster_home")).resolve()


def demo_truth_dir() -> Path:
    """What the demo generator knows about the people behind its files (for tests)."""
    return data_dir() / "demo_truth"


disable_telemetry()


def partition_start() -> str:
    """First delivery day of the daily ingest partitions (``SMS_PARTITION_START``)."""
    return os.environ.get("SMS_PARTITION_START", "2024-01-01")


def stale_after_days() -> int:
    """Days the newest purchase may lie before the marts' as-of day without a warning.

    ``SMS_STALE_AFTER_DAYS``, default 30: a month without any sale in any channel means
    the data stops (a history loaded without ``--as-of``), not that the shop is quiet.
    """
    value = os.environ.get("SMS_STALE_AFTER_DAYS", "30")
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"SMS_STALE_AFTER_DAYS must be a whole number of days, got {value!r}"
        ) from None


def default_phone_region() -> str:
    """Region for a phone typed without country code when the source names none."""
    return os.environ.get("SMS_DEFAULT_PHONE_REGION", "US").upper()


def published_path() -> Path:
    """Read-only copy of the warehouse for analysts (``SMS_PUBLISHED_PATH``).

    DuckDB lets one process write a file and nobody else open it meanwhile; the
    pipeline replaces this copy atomically after each successful load, so a
    notebook or the DuckDB CLI on it never blocks, and is never blocked by, a run.
    """
    default = data_dir() / "published" / "warehouse.duckdb"
    return Path(os.environ.get("SMS_PUBLISHED_PATH", default)).resolve()


def reports_dir() -> Path:
    """Generated reports (HTML), ``$SMS_DATA_DIR/reports``."""
    return data_dir() / "reports"


def campaigns_dir() -> Path:
    """Campaign files (``SMS_CAMPAIGNS_DIR``, default ``campaigns/`` in the repository)."""
    return Path(os.environ.get("SMS_CAMPAIGNS_DIR", REPO_ROOT / "campaigns")).resolve()


def duckdb_memory_limit() -> str:
    """Memory DuckDB may use in the pipeline before spilling (``SMS_DUCKDB_MEMORY_LIMIT``).

    One default for ingestion and dbt (``dbt/profiles.yml`` reads the same variable with
    the same default): 3GB. Measured at 1M customers (bench size L): the full dbt build
    spills its largest aggregations (fct_orders, fct_order_lines) at 2GB and ran 1.5x
    slower (340 s against 229 s, same machine, same hour), peaking at 3.2 GB resident at
    3GB. Ingestion gains nothing from the extra gigabyte (257 s at 3GB, 249 s at 2GB) but
    stays under the 4 GiB goal with it (peak 3.5 GB resident, against 2.4 GB at 2GB).
    """
    return os.environ.get("SMS_DUCKDB_MEMORY_LIMIT", "3GB")


@contextmanager
def exported_warehouse_path() -> Iterator[Path]:
    """``SMS_WAREHOUSE_PATH`` set to the resolved warehouse while a subprocess (dbt) runs.

    ``dbt/profiles.yml`` reads the path from the environment; this makes it the
    one Dagster resolved, even when only ``SMS_DATA_DIR`` (or nothing) was set.
    """
    path = warehouse_path()
    before = os.environ.get("SMS_WAREHOUSE_PATH")
    os.environ["SMS_WAREHOUSE_PATH"] = str(path)
    try:
        yield path
    finally:
        if before is None:
            os.environ.pop("SMS_WAREHOUSE_PATH", None)
        else:
            os.environ["SMS_WAREHOUSE_PATH"] = before
