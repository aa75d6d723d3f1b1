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
| ``SMS_BUSINESS_TIME_ZONE`` | ``UTC``                    | where the as-of day ends (IANA name)  |
| ``SMS_SHOP_TIME_ZONE``| the business's zone             | the web shop's configured zone        |
| ``SMS_LANDING_ENCODINGS`` | none (cp1252)               | encoding of non-UTF-8 files per entity|
| ``SMS_OPSTORE``       | ``embedded``                    | the ledger's store, or ``postgres``|
| ``SMS_POSTGRES_DSN``  | libpq's ``PG*`` variables       | the PostgreSQL operational store      |
| ``SMS_DISPATCH_WORKERS`` | ``1``                        | parallel dispatch workers (PostgreSQL)|
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


def landing_encodings() -> dict[str, str]:
    """Per entity, the encoding of its files that are not UTF-8 (``SMS_LANDING_ENCODINGS``).

    ``entity=codec`` pairs separated by commas, e.g. ``crm_contacts=cp1254,crm_tickets=cp1252``.
    Unset entities read a non-UTF-8 file as ``cp1252`` (what Windows Excel writes in Western
    Europe and the US). Which entities exist is the ingest layer's to check.
    """
    text = os.environ.get("SMS_LANDING_ENCODINGS", "").strip()
    out: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        entity, sep, codec = (x.strip() for x in item.partition("="))
        if not sep or not entity or not codec:
            raise ValueError(
                f"SMS_LANDING_ENCODINGS: {item!r} is not entity=codec (e.g. crm_contacts=cp1252)"
            )
        out[entity] = codec
    return out


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


def report_min_per_arm() -> int | None:
    """Recipients each group (treated and holdout) needs before the campaign report judges a
    campaign (``SMS_REPORT_MIN_PER_ARM``); None when unset: the report's default, 500."""
    raw = os.environ.get("SMS_REPORT_MIN_PER_ARM")
    if raw is None or not raw.strip():
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(
            f"SMS_REPORT_MIN_PER_ARM must be a whole number of at least 1, not {raw!r}"
        )
    return value


def campaigns_dir() -> Path:
    """Campaign files (``SMS_CAMPAIGNS_DIR``, default ``campaigns/`` in the repository)."""
    return Path(os.environ.get("SMS_CAMPAIGNS_DIR", REPO_ROOT / "campaigns")).resolve()


def journeys_dir() -> Path:
    """Journey files (``SMS_JOURNEYS_DIR``, default ``journeys/`` in the repository)."""
    return Path(os.environ.get("SMS_JOURNEYS_DIR", REPO_ROOT / "journeys")).resolve()


OPSTORE_KINDS = ("embedded", "postgres")


class SettingError(ValueError):
    """An environment variable holds a value the pipeline cannot use."""


def opstore_kind() -> str:
    """Where the operational state (send ledger, journey state, link registry) lives
    (``SMS_OPSTORE``): ``embedded``, the warehouse file itself, needing no server; or
    ``postgres``, for several dispatch workers at once."""
    value = (os.environ.get("SMS_OPSTORE") or "embedded").strip().lower()
    if value not in OPSTORE_KINDS:
        raise SettingError(f"SMS_OPSTORE={value!r}: expected one of {', '.join(OPSTORE_KINDS)}")
    return value


def postgres_dsn() -> str:
    """The PostgreSQL store's connection string (``SMS_POSTGRES_DSN``, e.g.
    ``postgresql://sms@db.internal:5432/sms``). Empty: libpq's own environment
    (``PGHOST``, ``PGPORT``, ``PGUSER``, ``PGPASSWORD``, ``PGDATABASE``) or a service file.
    A password belongs in ``PGPASSWORD`` or ``~/.pgpass``, not in a file in git."""
    return os.environ.get("SMS_POSTGRES_DSN", "").strip()


def dispatch_workers() -> int:
    """Dispatch worker processes (``SMS_DISPATCH_WORKERS``, default 1; more than one needs
    ``SMS_OPSTORE=postgres``). A run's config (``workers``) overrides it."""
    raw = (os.environ.get("SMS_DISPATCH_WORKERS") or "1").strip()
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 64:
        raise SettingError(f"SMS_DISPATCH_WORKERS={raw!r}: expected a whole number from 1 to 64")
    return value


def duckdb_memory_limit() -> str:
    """Memory DuckDB may use in the pipeline before spilling (``SMS_DUCKDB_MEMORY_LIMIT``).

    One default for ingestion and dbt (``dbt/profiles.yml`` reads the same variable with
    the same default): 3GB. At bench size L the full dbt build spills its largest
    aggregations (fct_orders, fct_order_lines) at 2GB and runs slower, while 3GB keeps
    every phase under the 4 GiB goal; the figures are in bench/README.md.
    """
    return os.environ.get("SMS_DUCKDB_MEMORY_LIMIT", "3GB")


# dbt reads the same variables with the same defaults (dbt/macros/utils/time_zones.sql);
# tests/unit/settings/test_time_zone_settings.py holds the two to each other.
BUSINESS_TIME_ZONE_DEFAULT = "UTC"


def _time_zone(variable: str, default: str) -> str:
    value = (os.environ.get(variable) or "").strip() or default
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{variable}={value!r} is not a time zone: use an IANA name such as "
            "America/New_York, Europe/Berlin or UTC"
        ) from None
    return value


def business_time_zone() -> str:
    """The business's own zone (``SMS_BUSINESS_TIME_ZONE``, default ``UTC``).

    The day the customer marts describe (dbt var ``as_of``) ends at midnight in this
    zone, and "today" is today here. A purchase's day is not read in it: an in-store
    sale counts on the store's local day (the POS row's zone), an online order on the
    shop's (``shop_time_zone``).
    """
    return _time_zone("SMS_BUSINESS_TIME_ZONE", BUSINESS_TIME_ZONE_DEFAULT)


def shop_time_zone() -> str:
    """The web shop's configured zone (``SMS_SHOP_TIME_ZONE``, default: the business's).

    An online order counts on its day in this zone (Shopify: *Settings > General >
    Time zone*, the zone its admin and exports show). Changing it changes history:
    rebuild with ``dbt build --full-refresh`` (a dbt test says so until then).
    """
    return _time_zone("SMS_SHOP_TIME_ZONE", business_time_zone())


_DBT_TIME_ZONES = {
    "SMS_BUSINESS_TIME_ZONE": business_time_zone,
    "SMS_SHOP_TIME_ZONE": shop_time_zone,
}


@contextmanager
def exported_warehouse_path() -> Iterator[Path]:
    """The settings dbt reads, exported while a subprocess (dbt) runs.

    ``SMS_WAREHOUSE_PATH`` set to the resolved warehouse: ``dbt/profiles.yml`` reads
    the path from the environment, so it is the one Dagster resolved, even when only
    ``SMS_DATA_DIR`` (or nothing) was set. The two time zones, checked first, so a
    misspelt zone fails here naming its variable rather than inside a model.
    """
    path = warehouse_path()
    values = {"SMS_WAREHOUSE_PATH": str(path)}
    values.update({name: resolve() for name, resolve in _DBT_TIME_ZONES.items()})
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield path
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
