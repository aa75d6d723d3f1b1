"""Dagster assets of the ``ingest`` group: one per source entity.

Thin on purpose: each asset resolves its partition range and calls
``loader.load``; all the logic (typing, rejects, phones, replace-by-day) lives
there and is tested without Dagster.
"""

import warnings
from datetime import UTC, date, datetime, timedelta

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    AssetsDefinition,
    BackfillPolicy,
    BetaWarning,
    Config,
    DailyPartitionsDefinition,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
    asset,
)
from pydantic import Field

from dagster_project import settings
from dagster_project.contracts import landed_files
from dagster_project.ingest import catch_up, checks, events, loader
from dagster_project.ingest.specs import (
    CRM_CONSENT,
    DAILY_SPECS,
    REFERENCE_SPECS,
    SourceSpec,
    duckdb_type,
)
from dagster_project.lib.metadata import mask_columns, md_table
from dagster_project.warehouse import WAREHOUSE_POOL, WarehouseResource

# Partition = delivery day (the landing folder). end_offset=1 makes today's
# folder loadable as files arrive during the day.
daily_partitions = DailyPartitionsDefinition(
    start_date=settings.partition_start(), timezone="UTC", end_offset=1
)


def raw_key(entity: str) -> AssetKey:
    return AssetKey(["raw", entity])


def _column_schema(spec: SourceSpec) -> TableSchema:
    described = loader.column_descriptions(spec)
    types = {c.name: duckdb_type(c.type) for c in spec.columns}
    return TableSchema(
        columns=[
            TableColumn(name, types.get(name, ""), description=d) for name, d in described.items()
        ]
    )


def _preview(conn, spec: SourceSpec, result: loader.LoadResult) -> str:
    """Five loaded rows of the range, phones masked, nested columns left out."""
    simple = [c.name for c in spec.columns if isinstance(c.type, str)][:8]
    phone_cols = [p.column for p in spec.phones] + [f"{p.column}_e164" for p in spec.phones]
    cols = simple + [f"{p.column}_e164" for p in spec.phones]
    where, params = "", []
    if spec.partitioned:
        where, params = "WHERE _partition_date BETWEEN ? AND ?", [result.start, result.end]
    quoted = ", ".join(f'"{c}"' for c in cols)
    rows = conn.execute(
        f'SELECT {quoted} FROM raw."{spec.entity}" {where} ORDER BY ALL LIMIT 5', params
    ).fetchall()
    return md_table(cols, mask_columns(cols, rows, phone_cols))


def build_ingest_asset(spec: SourceSpec) -> AssetsDefinition:
    @asset(
        key=raw_key(spec.entity),
        group_name="ingest",
        description=(
            f"{spec.description}\n\nLoaded from `{spec.path}` under the landing folder "
            "(see docs/landing-files.md). Malformed rows go to `ingest.rejects`."
        ),
        partitions_def=daily_partitions if spec.partitioned else None,
        # A backfill of many days is one run reading the whole range in one pass.
        backfill_policy=BackfillPolicy.single_run() if spec.partitioned else None,
        deps=[raw_key(n) for n in spec.needs],
        pool=WAREHOUSE_POOL,
        kinds={"duckdb", spec.format},
        tags={"source": spec.source},
        metadata={
            "dagster/table_name": f"raw.{spec.entity}",
            "dagster/column_schema": _column_schema(spec),
            "landing_path": spec.path,
        },
        check_specs=checks.check_specs(raw_key(spec.entity)) if spec.partitioned else None,
    )
    def _ingest(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
        start = end = None
        if spec.partitioned:
            window = context.partition_time_window
            start = window.start.date()
            end = (window.end - timedelta(days=1)).date()
        with warehouse.get_connection() as conn:
            first_day = date.fromisoformat(settings.partition_start())
            if spec.partitioned:
                # with the record of the files read, which the send-time catch-up compares
                result = catch_up.load_and_record(
                    conn, spec, settings.landing_dir(), start, end,
                    settings.default_phone_region(), first_day=first_day,
                )  # fmt: skip
            else:
                result = loader.load(
                    conn, spec, settings.landing_dir(),
                    default_region=settings.default_phone_region(), first_day=first_day,
                )  # fmt: skip
            preview = _preview(conn, spec, result)
        span = f" for {start}..{end}" if spec.partitioned else ""
        context.log.info(
            f"{spec.entity}{span}: {result.rows_loaded} rows loaded, {result.rows_rejected} "
            f"rejected from {len(result.files)} files in {result.seconds:.1f}s"
        )
        if result.extra_columns:
            context.log.warning(
                f"{spec.entity}: columns not in the spec were not loaded: "
                f"{', '.join(sorted(result.extra_columns))}"
            )
        metadata = {
            "rows_loaded": result.rows_loaded,
            "rows_rejected": result.rows_rejected,
            "files": len(result.files),
            "seconds": round(result.seconds, 2),
            "phones_parsed_new": result.phones_parsed,
            "phones_invalid_new": result.phones_invalid,
            "preview": MetadataValue.md(preview),
            "rejects_by_reason": MetadataValue.md(
                md_table(["reason", "rows"], sorted(result.rejects_by_reason.items()))
            ),
            "reject_examples": MetadataValue.md(
                md_table(
                    ["file", "line", "column", "reason"],
                    [r.values() for r in result.reject_preview],
                )
            ),
            "extra_columns": MetadataValue.json(
                {k: sorted(set(v))[:5] for k, v in result.extra_columns.items()}
            ),
        }
        if result.empty_files:
            metadata["empty_files"] = MetadataValue.json(result.empty_files[:20])
        if result.encodings:
            metadata["files_not_utf8"] = MetadataValue.json(
                dict(list(result.encodings.items())[:20])
            )
        check_results = []
        if spec.partitioned:
            metadata["partition_range"] = f"{start}..{end}"
            metadata["rows_quarantined"] = result.rows_quarantined
            selected = {k.name for k in context.selected_asset_check_keys}
            check_results = checks.results(result, settings.landing_dir(), selected)
            for check in check_results:
                if not check.passed:
                    context.log.warning(f"{spec.entity}: {check.check_name}: {check.description}")
        return MaterializeResult(metadata=metadata, check_results=check_results)

    return _ingest


# Single-run backfills are a deliberate choice (see backfill_policy above).
warnings.filterwarnings("ignore", category=BetaWarning, message=".*backfill_policy.*")

reference_assets = [build_ingest_asset(spec) for spec in REFERENCE_SPECS]
daily_assets = [build_ingest_asset(spec) for spec in DAILY_SPECS]


@asset(
    key=raw_key(events.ENTITY),
    group_name="ingest",
    description=(
        "Outcome events from the webhook receiver (delivery receipts, replies, STOP, clicks), "
        "read from its append-only landing log (`$SMS_DATA_DIR/webhooks/events/`, format in "
        "docs/outcomes.md). Loads only what is new; a duplicate callback is dropped on its "
        "event_id; a malformed line goes to `ingest.rejects` with file, line and reason. "
        "Every dispatch run loads it first, so an opt-out received before a send is honoured."
    ),
    pool=WAREHOUSE_POOL,
    kinds={"duckdb", "json"},
    tags={"source": "webhooks"},
    metadata={"dagster/table_name": events.TABLE, "landing_path": "webhooks/events/"},
)
def sms_events(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    with warehouse.get_connection() as conn:
        result = events.load_new(conn, settings.events_dir())
        total = conn.execute(f"SELECT count(*) FROM {events.TABLE}").fetchall()[0][0]
    context.log.info(
        f"sms_events: {result.lines_read} new lines in {len(result.files)} files, "
        f"{result.loaded} loaded, {result.duplicates} duplicates, {result.rejected} rejected"
    )
    return MaterializeResult(
        metadata={
            "lines_read": result.lines_read,
            "rows_loaded": result.loaded,
            "duplicates_dropped": result.duplicates,
            "rows_rejected": result.rejected,
            "rows_total": total,
            "files": MetadataValue.json(result.files),
            "read_by_type": MetadataValue.json(result.read_by_type),
            "seconds": round(result.seconds, 2),
        }
    )


CONSENT_CATCH_UP_KEY = AssetKey(["ingest", "crm_consent_catch_up"])


class CatchUpConfig(Config):
    now: str | None = Field(
        default=None,
        description="The send's clock, ISO 8601 (default now): delivery days up to its UTC "
        "day are loaded. Set it with the dispatch's `now` when replaying a past day.",
    )


@asset(
    key=CONSENT_CATCH_UP_KEY,
    group_name="ingest",
    description=(
        "Before every send: loads every CRM consent file that has landed and that no load "
        "has read as it is now (any delivery day), so a STOP the CRM recorded this morning "
        "counts this afternoon. Fails, naming the files, when a landed consent file cannot "
        "be loaded: nothing is sent past a file that may hold an opt-out. The days it loads "
        f"show as materializations of `raw/{CRM_CONSENT.entity}`."
    ),
    deps=[raw_key(CRM_CONSENT.entity)],
    pool=WAREHOUSE_POOL,
    kinds={"duckdb", CRM_CONSENT.format},
    tags={"source": CRM_CONSENT.source},
)
def crm_consent_catch_up(
    context: AssetExecutionContext, warehouse: WarehouseResource, config: CatchUpConfig
) -> MaterializeResult:
    now = datetime.fromisoformat(config.now) if config.now else datetime.now(UTC)
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    with warehouse.get_connection() as conn:
        done = catch_up.catch_up(
            conn, CRM_CONSENT, settings.landing_dir(), settings.default_phone_region(),
            landed_files.through(now),
        )  # fmt: skip
    for day in done.days:
        context.log_event(
            AssetMaterialization(
                asset_key=raw_key(CRM_CONSENT.entity),
                partition=day.isoformat(),
                description="loaded by the send-time consent catch-up",
            )
        )
    context.log.info(
        f"consent catch-up: {len(done.files)} new or changed file(s) over {len(done.days)} "
        f"day(s), {done.rows_loaded} rows loaded, {done.rows_rejected} rejected"
    )
    return MaterializeResult(
        metadata={
            "days_loaded": MetadataValue.json([d.isoformat() for d in done.days]),
            "files_loaded": len(done.files),
            "rows_loaded": done.rows_loaded,
            "rows_rejected": done.rows_rejected,
        }
    )
