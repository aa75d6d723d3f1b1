"""The command line's steps as Dagster runs on the instance in ``$DAGSTER_HOME``.

Each function materializes a selection of the code location's assets in this
process (so the runs show in ``make dev``), prints one or two lines of what
happened, and raises ``CommandError`` with the failing step's own message when a
run fails. The command line holds the warehouse's writer lock around all of it.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, date, datetime

from dagster import AssetSelection, DagsterInstance

from dagster_project import settings
from dagster_project.activation import DISPATCH_KEY, DISPATCH_SELECTION, PLAN_GATES, PLAN_SELECTION
from dagster_project.activation.resources import read_book
from dagster_project.definitions import defs, materialize_selection
from dagster_project.ingest import loader
from dagster_project.ingest.assets import (
    crm_consent_catch_up,
    daily_assets,
    daily_partitions,
    reference_assets,
    sms_events,
)
from dagster_project.ingest.jobs import RANGE_END_TAG, RANGE_START_TAG
from dagster_project.ingest.specs import DAILY_SPECS
from dagster_project.journeys.assets import INTRADAY_SELECTION, JOURNEYS_KEY
from dagster_project.pipeline.console import CommandError, console, detail, say, warn
from dagster_project.publish.assets import analytics_snapshot
from dagster_project.quality import mart_checks, raw_checks
from dagster_project.reporting import campaign_performance_report
from dagster_project.transform import LIFECYCLE_KEY, dbt_models

# Step events at DEBUG drown the story; the log file and the UI keep everything at INFO.
_QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
# The Great Expectations gates (dbt's tests are checks too), for the closing summary.
_GX_CHECKS = {spec.name for c in [*raw_checks, *mart_checks] for spec in c.check_specs} | set(
    PLAN_GATES.values()
)
# Every data-quality check evaluated by this process's runs, for the closing summary.
EVALUATIONS: list = []


def instance() -> DagsterInstance:
    """The instance in ``$DAGSTER_HOME`` (default ``data/dagster_home``, made on first use)."""
    home = settings.dagster_home()
    if not (home / "dagster.yaml").exists():
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy(settings.REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    os.environ["DAGSTER_HOME"] = str(home)
    return DagsterInstance.get()


def _innermost(error) -> str:
    """The first line of the deepest cause: the step's own error, not Dagster's wrapping."""
    while error.cause is not None:
        error = error.cause
    message = error.message.strip().splitlines()[0] if error.message.strip() else error.cls_name
    head, sep, rest = message.partition(": ")  # "package.module.ErrorClass: the message"
    return rest if sep and error.cls_name and head.endswith(error.cls_name) else message


def _run(selection, dagster: DagsterInstance, what: str, run_config=None, **kwargs):
    result = materialize_selection(
        selection,
        instance=dagster,
        run_config={**_QUIET, **(run_config or {})},
        raise_on_error=False,
        **kwargs,
    )
    evaluations = result.get_asset_check_evaluations()
    EVALUATIONS.extend(e for e in evaluations if e.check_name in _GX_CHECKS)
    if result.success:
        return result
    for e in evaluations:
        if not e.passed:
            reason = e.metadata.get("reason")
            warn(
                f"  check failed: {e.asset_key.to_user_string()}:{e.check_name}"
                f" [{e.severity.value}] {getattr(reason, 'value', reason) or e.description or ''}"
            )
    failures = [
        f"{event.step_key}: {_innermost(event.step_failure_data.error)}"
        for event in result.all_events
        if event.is_step_failure and event.step_failure_data.error is not None
    ]
    because = f": {'; '.join(failures)}" if failures else ""
    log = f"; log: {console.log_path}" if console.log_path else ""
    raise CommandError(f"{what} failed{because} (run {result.run_id[:8]} in the Dagster UI{log})")


def _op(key) -> str:
    return defs.get_assets_def(key).op.name


def _plan_ops() -> list[str]:
    """The op of every plan asset, broken campaign files' included (they take the config)."""
    return [_op(k) for k in PLAN_SELECTION.resolve(defs.resolve_asset_graph())]


def value(md, key):
    return getattr(md.get(key), "value", md.get(key))


def landing_range() -> tuple[date, date] | None:
    days = [d for spec in DAILY_SPECS for d in loader.day_folders(settings.landing_dir(), spec)]
    return (min(days), max(days)) if days else None


def ingest(dagster: DagsterInstance, start: date | None, end: date | None) -> None:
    found = landing_range()
    if found is None:
        raise CommandError(
            f"no delivery-day folders under {settings.landing_dir()}: nothing to load"
        )
    start, end = start or found[0], end or found[1]
    first = date.fromisoformat(daily_partitions.get_first_partition_key())
    if start < first:
        raise CommandError(
            f"landing data starts {start}, before the first partition {first}: "
            f"set SMS_PARTITION_START={start} (or earlier)"
        )
    _run(AssetSelection.assets(*reference_assets), dagster, "loading the reference snapshots")
    result = _run(
        AssetSelection.assets(*daily_assets),
        dagster,
        "ingestion",
        tags={RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: end.isoformat()},
    )
    # One event per partition, each with the totals of the asset's whole range.
    per_asset = {
        e.asset_key: e.materialization.metadata for e in result.get_asset_materialization_events()
    }
    loaded = sum(value(md, "rows_loaded") or 0 for md in per_asset.values())
    rejected = sum(value(md, "rows_rejected") or 0 for md in per_asset.values())
    say(
        f"loaded delivery days {start}..{end}: {loaded:,} rows, {rejected:,} rejected "
        "(file, line and reason in ingest.rejects)"
    )


def transform(dagster: DagsterInstance, as_of: date | None = None) -> dict | None:
    """dbt build (as of ``as_of``, default today); returns the freshness metadata, and warns."""
    config = {"ops": {dbt_models.op.name: {"config": {"as_of": str(as_of)}}}} if as_of else {}
    result = _run(AssetSelection.assets(dbt_models), dagster, "dbt build", run_config=config)
    tests = [e for e in result.get_asset_check_evaluations() if e.check_name not in _GX_CHECKS]
    models = len(result.get_asset_materialization_events())
    observations = [
        e.event_specific_data.asset_observation for e in result.get_asset_observation_events()
    ]
    freshness = next(
        (
            {k: getattr(v, "value", v) for k, v in o.metadata.items()}
            for o in observations
            if o.asset_key == LIFECYCLE_KEY and "stale_data_warning" in o.metadata
        ),
        None,
    )
    passed = sum(e.passed for e in tests)
    line = f"built the dbt models: {models} models and seeds, {passed}/{len(tests)} tests passed"
    if freshness:
        line += f"; marts as of {freshness['as_of']}"
        newest = freshness["newest_purchase_on"]
        line += f", newest purchase {newest}" if newest else ", no purchase before it"
    say(line)
    if freshness and freshness["stale_data_warning"]:
        warn(f"WARNING: {freshness['stale_data_warning']}")
    return freshness


def publish(dagster: DagsterInstance) -> None:
    _run(AssetSelection.assets(analytics_snapshot), dagster, "publishing the analysts' copy")
    say(f"published the analysts' copy: {settings.published_path()}")


def report(dagster: DagsterInstance) -> str:
    result = _run(
        AssetSelection.assets(campaign_performance_report), dagster, "the performance report"
    )
    md = result.get_asset_materialization_events()[0].materialization.metadata
    return value(md, "report_url")


def refuse_broken_campaign_files() -> None:
    broken = read_book(settings.campaigns_dir()).broken
    if broken:
        raise CommandError(broken[0].error)


def plan(dagster: DagsterInstance, day: date, now: datetime | None = None) -> dict:
    """Plan every campaign for ``day``, in priority order (at ``now``, default: the real clock).

    A broken campaign file stops the command before anything is planned, naming file and
    field: someone is at the terminal to fix it. (Scheduled runs in Dagster plan the other
    campaigns and show the broken one as a failed check.)
    """
    refuse_broken_campaign_files()
    clock = {"config": {"now": now.isoformat()}} if now else None
    config = {"ops": {op: clock for op in _plan_ops()}} if clock else {}
    result = _run(
        PLAN_SELECTION,
        dagster,
        "planning",
        partition_key=day.isoformat(),
        run_config=config,
    )
    total: dict = {}
    for event in result.get_asset_materialization_events():
        md = event.materialization.metadata
        # The ledger's "planned" means due now; both it and "deferred" will be sent.
        due, later = value(md, "planned"), value(md, "deferred")
        counts = {
            "candidates": value(md, "candidates"),
            "planned": due + later,
            "held_out": value(md, "held_out"),
            "skipped": value(md, "skipped"),
        }
        for key, n in counts.items():
            total[key] = total.get(key, 0) + n
        say(
            f"  {event.asset_key.path[-1]:<20} {counts['candidates']:>6,} candidates:"
            f" {counts['planned']:>5,} planned ({due:,} due now, {later:,} when their window"
            f" opens), {counts['held_out']:,} held out, {counts['skipped']:,} skipped;"
            f" cost {value(md, 'cost_usd'):,.2f} USD"
        )
    return total


def dispatch(dagster: DagsterInstance, now: datetime | None = None) -> dict:
    """Load new outcome events and landed consent files, then send what is due (at ``now``:
    the sandbox only)."""
    config = {}
    if now:
        clock = {"config": {"now": now.isoformat()}}
        config = {"ops": {_op(DISPATCH_KEY): clock, crm_consent_catch_up.op.name: clock}}
    result = _run(
        AssetSelection.assets(sms_events, crm_consent_catch_up) | DISPATCH_SELECTION,
        dagster,
        "sending",
        run_config=config,
    )
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == DISPATCH_KEY]
    v = {k: getattr(x, "value", x) for k, x in event.materialization.metadata.items()}
    when = f" {now:%Y-%m-%d %H:%M} UTC" if now else ""
    extras = [
        (v["failed"], "failed"),
        (v["unknown"], "unknown"),
        (v["deferred"], "put off to their window's next opening"),
        (v["skipped_at_send_time"], "dropped at send time (opt-out, suppression)"),
    ]
    line = f"  dispatch{when} ({v['gateway']}): {v['accepted']:,} sent" + "".join(
        f", {n:,} {label}" for n, label in extras if n
    )
    sent_anything = any(v[k] for k in ("accepted", "failed", "unknown", "skipped_at_send_time"))
    (say if sent_anything or not now else detail)(line)
    return v


def advance_journeys(
    dagster: DagsterInstance,
    now: datetime | None = None,
    *,
    intraday: bool = False,
    as_of: date | None = None,
) -> dict:
    """Advance every journey (at ``now``: the sandbox only); with ``intraday``, first load
    new outcome events and consent files and rebuild the journey event stream, as the
    sensor's job does. Sends nothing: the dispatch does."""
    selection = AssetSelection.assets(JOURNEYS_KEY)
    ops: dict = {}
    if now:
        ops[_op(JOURNEYS_KEY)] = {"config": {"now": now.isoformat()}}
    if intraday:
        selection = (
            selection | AssetSelection.assets(sms_events, crm_consent_catch_up) | INTRADAY_SELECTION
        )
        if now:
            ops[crm_consent_catch_up.op.name] = {"config": {"now": now.isoformat()}}
        if as_of:
            ops[dbt_models.op.name] = {"config": {"as_of": str(as_of)}}
    result = _run(
        selection, dagster, "advancing the journeys", run_config={"ops": ops} if ops else {}
    )
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == JOURNEYS_KEY]
    v = {k: getattr(x, "value", x) for k, x in event.materialization.metadata.items()}
    when = f" {now:%Y-%m-%d %H:%M} UTC" if now else ""
    line = (
        f"  journeys{when}: {v['entered']:,} entered, {v['messages_written']:,} messages written "
        "to the ledger"
    )
    (say if v["entered"] or v["messages_written"] or not now else detail)(line)
    return v


def activation_day(now: datetime | None = None) -> date:
    """The UTC day to plan: of ``now`` (any zone), default the real clock; never the host's."""
    return (now or datetime.now(UTC)).astimezone(UTC).date()


def activate(dagster: DagsterInstance, now: datetime | None = None) -> None:
    """Plan every campaign for the UTC day of ``now`` (default: now), then send what is due."""
    day = activation_day(now)
    refuse_broken_campaign_files()
    say(f"planning the campaigns for {day} (UTC), advancing the journeys, sending what is due")
    plan(dagster, day, now)
    advance_journeys(dagster, now)
    dispatch(dagster, now)
    say("  messages waiting for their window go out in later dispatch runs (hourly schedule)")


def load_outcomes(dagster: DagsterInstance) -> None:
    result = _run(AssetSelection.assets(sms_events), dagster, "loading outcome events")
    md = result.get_asset_materialization_events()[0].materialization.metadata
    say(
        f"outcome events: {value(md, 'rows_loaded'):,} loaded, "
        f"{value(md, 'duplicates_dropped'):,} duplicates dropped, "
        f"{value(md, 'rows_rejected'):,} rejected ({value(md, 'rows_total'):,} in raw.sms_events)"
    )
