"""Dagster asset checks built from the suites: one ``@asset_check`` per suite and dataset.

Thin on purpose: fetch the dataset's bounded batch (``datasets``), validate it
with its suite (``validation``), render the Data Docs page, and turn the outcome
into an ``AssetCheckResult``. A suite with a ``critical`` expectation makes a
blocking check: when it fails, Dagster runs nothing downstream of the asset in
that run, and ``gates.require_passing_gates`` refuses later runs until the gate
passes again.
"""

import logging
from datetime import UTC, date, datetime, timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    Config,
    MetadataValue,
    asset_check,
    multi_asset_check,
)
from pydantic import Field

from dagster_project import settings
from dagster_project.ingest.jobs import RANGE_END_TAG, RANGE_START_TAG
from dagster_project.lib.metadata import md_table
from dagster_project.quality import data_docs, datasets, validation
from dagster_project.quality.datasets import Dataset
from dagster_project.warehouse import WAREHOUSE_POOL, WarehouseResource

EXPECTATIONS_DIR = settings.REPO_ROOT / "expectations"
log = logging.getLogger(__name__)


class GateConfig(Config):
    """Which delivery days a raw gate validates when run on its own from the UI."""

    start: str | None = Field(
        default=None,
        description="First delivery day (YYYY-MM-DD). Default: the run's partition range, "
        "else the last delivery day loaded.",
    )
    end: str | None = Field(default=None, description="Last delivery day (default: = start).")


def docs_dir():
    return settings.data_dir() / "gx"


def loaded_range(context: AssetCheckExecutionContext, config: GateConfig, conn, dataset: Dataset):
    """The delivery days to validate: config, else the run's range, else the latest day."""
    if config.start:
        start = date.fromisoformat(config.start)
        return start, date.fromisoformat(config.end) if config.end else start
    tags = context.run.tags
    if RANGE_START_TAG in tags and RANGE_END_TAG in tags:
        return date.fromisoformat(tags[RANGE_START_TAG]), date.fromisoformat(tags[RANGE_END_TAG])
    if "dagster/partition" in tags:
        day = date.fromisoformat(tags["dagster/partition"])
        return day, day
    day = dataset.latest_day(conn)
    return day, day


def day_to_judge(last_loaded: date, today: date) -> date:
    """The delivery day a volume check judges: the last one loaded, unless that day is still
    in progress (today, UTC): shop exports land in hourly cuts through the day, so a day
    loaded at 11:00 holds half its rows and is no failed export. Then the last complete
    day is judged, and today is judged once it is over."""
    return min(last_loaded, today - timedelta(days=1))


def _log(context, outcome: validation.SuiteOutcome):
    """A failed gate is an error in the run's log; a failed signal a warning."""
    if outcome.passed:
        return context.log.info
    return context.log.error if outcome.gate_failed else context.log.warning


def _expectations_table(outcome: validation.SuiteOutcome) -> str:
    rows = []
    for o in outcome.outcomes:
        result = f"ERROR: {o.error}" if o.error else ("pass" if o.success else "FAIL")
        share = "" if o.unexpected_percent is None else f"{o.unexpected_percent:.2f}%"
        unexpected = "" if o.unexpected_count is None else f"{o.unexpected_count:,}"
        observed = "" if o.observed_value is None else str(o.observed_value)
        rows.append(
            [result, o.severity, o.expectation, o.column, unexpected, share, observed, o.why]
        )
    headers = ["result", "severity", "expectation", "column", "unexpected", "share", "observed"]
    return md_table([*headers, "why"], rows)


def _examples(outcome: validation.SuiteOutcome) -> str:
    parts = []
    for o in outcome.failed:
        if not o.examples:
            continue
        headers = list(o.examples[0])
        title = f"**{o.expectation}** ({o.column})" if o.column else f"**{o.expectation}**"
        parts.append(title + "\n\n" + md_table(headers, [list(e.values()) for e in o.examples]))
    return "\n\n".join(parts) or "no failing rows"


def result_from_outcome(
    outcome: validation.SuiteOutcome,
    batch: str,
    docs_page: str | None,
    asset_key: AssetKey | None = None,
    check_name: str | None = None,
) -> AssetCheckResult:
    """The check result: pass/fail, severity, the reason, counts and masked examples."""
    metadata = {
        "suite": MetadataValue.path(str(EXPECTATIONS_DIR / f"{outcome.suite}.json")),
        "batch": batch,
        "rows": outcome.rows,
        "expectations": len(outcome.outcomes),
        "failed_expectations": len(outcome.failed),
        "reason": outcome.reason(),
        "outcomes": MetadataValue.md(_expectations_table(outcome)),
        "outcomes_json": MetadataValue.json(
            [
                {
                    "expectation": o.expectation,
                    "column": o.column,
                    "success": o.success,
                    "severity": o.severity,
                    "unexpected_count": o.unexpected_count,
                    "unexpected_percent": o.unexpected_percent,
                    "observed_value": o.observed_value,
                    "error": o.error,
                }
                for o in outcome.outcomes
            ]
        ),
    }
    if outcome.failed:
        metadata["examples"] = MetadataValue.md(_examples(outcome))
    if docs_page:
        metadata["data_docs"] = MetadataValue.path(docs_page)
    return AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=outcome.passed,
        severity=AssetCheckSeverity.ERROR if outcome.gate_failed else AssetCheckSeverity.WARN,
        description=outcome.reason(),
        metadata=metadata,
    )


def build_check(dataset: Dataset) -> AssetChecksDefinition:
    # A broken suite file fails loading the definitions, naming the file and field.
    suite = validation.load_suite(EXPECTATIONS_DIR / f"{dataset.suite}.json")
    blocking = validation.suite_is_blocking(suite)

    @asset_check(
        asset=AssetKey(list(dataset.asset)),
        name=dataset.suite,
        description=(
            f"{dataset.description}\n\nGreat Expectations suite `expectations/{dataset.suite}"
            f".json` ({'blocking' if blocking else 'signal only'})."
        ),
        blocking=blocking,
        pool=WAREHOUSE_POOL,
        metadata={"suite": f"expectations/{dataset.suite}.json", "blocking": blocking},
    )
    def _check(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource, config: GateConfig
    ) -> AssetCheckResult:
        with warehouse.get_connection() as conn:
            if dataset.partitioned:
                start, end = loaded_range(context, config, conn, dataset)
                if start is None:
                    raise RuntimeError(f"{'/'.join(dataset.asset)} holds no day to check")
                batch = f"delivery days {start}..{end}" if start != end else f"delivery day {end}"
            else:
                start = end = None
                batch = "whole table"
            frame = datasets.fetch(conn, dataset, start, end)
        outcome = validation.validate(
            frame,
            suite,
            phone_columns=dataset.phone_columns,
            example_columns=dataset.example_columns,
            source_root=settings.landing_dir(),
        )
        page = data_docs.DataDocs(docs_dir()).publish(
            outcome,
            run_name=context.run.run_id,
            batch_id=f"{'.'.join(dataset.asset)}-{end or 'all'}",
        )
        _log(context, outcome)(
            f"{dataset.suite} on {'.'.join(dataset.asset)} ({batch}): {outcome.reason()}"
        )
        return result_from_outcome(outcome, batch, str(page))

    return _check


def build_volume_check(datasets_: list[Dataset]) -> AssetChecksDefinition:
    """The day-volume checks of the daily sources (volume band, demand), in one step.

    Each source's verdict depends on how every other source moved that day, so the
    step runs after all of the run's loads; it still reports one check per source
    and suite.
    """
    suites = {
        d.suite: validation.load_suite(EXPECTATIONS_DIR / f"{d.suite}.json") for d in datasets_
    }
    blocking = {name: validation.suite_is_blocking(s) for name, s in suites.items()}
    by_key = {AssetCheckKey(AssetKey(list(d.asset)), d.suite): d for d in datasets_}
    specs = [
        AssetCheckSpec(
            name=d.suite,
            asset=key.asset_key,
            description=(
                f"{d.description}\n\nGreat Expectations suite `expectations/{d.suite}.json`."
            ),
            blocking=blocking[d.suite],
            metadata={"suite": f"expectations/{d.suite}.json", "blocking": blocking[d.suite]},
        )
        for key, d in by_key.items()
    ]
    name = datasets_[0].suite

    @multi_asset_check(specs=specs, can_subset=True, pool=WAREHOUSE_POOL, name=name)
    def _volume(
        context: AssetCheckExecutionContext, warehouse: WarehouseResource, config: GateConfig
    ):
        docs = data_docs.DataDocs(docs_dir())
        with warehouse.get_connection() as conn:
            for check_key in sorted(context.selected_asset_check_keys, key=str):
                dataset = by_key[check_key]
                table = dataset.asset[1]
                _, day = loaded_range(context, config, conn, dataset)
                if day is None:
                    raise RuntimeError(f"raw.{table} holds no delivery day to check")
                day = day_to_judge(day, datetime.now(UTC).date())
                frame = datasets.fetch(conn, dataset, day, day)
                outcome = validation.validate(
                    frame, suites[dataset.suite], example_columns=dataset.example_columns
                )
                page = docs.publish(
                    outcome, run_name=context.run.run_id, batch_id=f"raw.{table}-{day}"
                )
                _log(context, outcome)(
                    f"{dataset.suite} on raw.{table} (delivery day {day}): {outcome.reason()}"
                )
                yield result_from_outcome(
                    outcome, f"delivery day {day}", str(page), check_key.asset_key, dataset.suite
                )

    return _volume


raw_checks = [
    *(build_check(d) for d in [*datasets.RAW_DATASETS, *datasets.QUARANTINE_DATASETS]),
    build_volume_check([*datasets.VOLUME_DATASETS, *datasets.DEMAND_DATASETS]),
]
mart_checks = [build_check(d) for d in datasets.MART_DATASETS]
