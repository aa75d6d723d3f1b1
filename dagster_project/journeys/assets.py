"""The journeys as Dagster definitions: the advance asset, its file check, job and sensor.

Thin: the work is ``advance.advance_all``; the journey files come from the
``campaigns`` resource (read once per run, beside the campaigns whose caps and
priorities they share). A journey file that does not validate fails the
``journey_files`` check with its file and field, and the other journeys advance.
"""

import datetime as dt

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    AssetSpec,
    Config,
    DagsterRunStatus,
    DefaultSensorStatus,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    RunsFilter,
    RunStatusSensorContext,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    multi_asset,
    run_status_sensor,
    sensor,
)
from dagster_dbt import build_dbt_asset_selection
from pydantic import Field

from dagster_project import opstore
from dagster_project.activation.assets import (
    CONSENT_CATCH_UP_KEY,
    JOURNEYS_KEY,
    PLAN_GATE_RULES,
    PLAN_GATES,
    SMS_EVENTS_KEY,
    configured_moment,
)
from dagster_project.activation.jobs import dispatch_job
from dagster_project.activation.resources import CampaignsResource
from dagster_project.journeys import advance
from dagster_project.lib.metadata import md_table
from dagster_project.quality.checks import build_check
from dagster_project.quality.datasets import AUDIENCE_EXAMPLE_COLUMNS, Dataset, audience_query
from dagster_project.quality.gates import require_passing_gates
from dagster_project.transform import dbt_models
from dagster_project.warehouse import WAREHOUSE_POOL, WarehouseResource

# The marts a journey reads: its triggers, the facts of its exits and branches, the rule.
JOURNEY_INPUTS = [
    AssetKey(["marts", name])
    for name in (
        "fct_customer_events",
        "fct_customer_segment_history",
        "fct_invoices",
        "dim_customers",
        "dim_customer_segments",
        "dim_sms_reachability",
    )
]
# What an intra-day advance rebuilds before it looks: the event stream and the invoices, with
# the dbt models they read in dbt's own graph (replies and clicks reach the stream over
# feedback edges the asset graph cuts); incremental ones take only what landed. The customer
# marts (segments, RFM, lifecycle) stay as the daily build left them.
INTRADAY_SELECTION = build_dbt_asset_selection(
    [dbt_models], dbt_select="+fct_customer_events +fct_invoices"
)


class JourneysConfig(Config):
    now: str | None = Field(default=None, description="The moment to advance at (default: now).")


@multi_asset(
    name="activation__journeys",
    specs=[
        AssetSpec(
            JOURNEYS_KEY,
            group_name="activation",
            kinds={"duckdb"},
            deps=[*JOURNEY_INPUTS, SMS_EVENTS_KEY, CONSENT_CATCH_UP_KEY],
            description=(
                "Advances every journey (`journeys/*.yml`): new entries from the warehouse's "
                "events, exits, waits and branches, and the messages of the steps reached, "
                "written to the send ledger (`sms.ledger`) with the entry state "
                "(`sms.journey_entries`) in one transaction. The dispatch sends them."
            ),
        )
    ],
    check_specs=[
        AssetCheckSpec(
            "journey_files",
            asset=JOURNEYS_KEY,
            description="Every journey file loads; a broken one is named with its field.",
        )
    ],
    pool=WAREHOUSE_POOL,
)
def activation_journeys(
    context: AssetExecutionContext,
    warehouse: WarehouseResource,
    campaigns: CampaignsResource,
    config: JourneysConfig,
):
    require_passing_gates(context, [JOURNEYS_KEY])
    now = configured_moment(config.now)
    book = campaigns.book
    with warehouse.get_connection() as conn, opstore.connection(conn) as store:
        reports = advance.advance_all(
            conn,
            book.journeys,
            now,
            book.policy,
            book.prices,
            run_id=context.run.run_id,
            priorities={k: p.priority for k, p in book.programs.items()},
            store=store,
        )
        # The journeys' gates read the warehouse's copy of the ledger: brought up to date.
        synced = opstore.sync_warehouse(store, conn)
    for r in reports:
        context.log.info(f"journey {r.journey_id} at {now:%Y-%m-%d %H:%M} UTC: {r}")
    yield MaterializeResult(
        asset_key=JOURNEYS_KEY,
        metadata={**journeys_metadata(reports), **opstore.sync_metadata(synced)},
    )
    broken = book.broken_journeys
    yield AssetCheckResult(
        check_name="journey_files",
        asset_key=JOURNEYS_KEY,
        passed=not broken,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "journeys": len(book.journeys),
            "broken": len(broken),
            "errors": MetadataValue.md(
                md_table(["file", "error"], [(str(b.path), b.error) for b in broken])
            ),
        },
    )


# The messages the latest advance is about to send (it stamps them all with its clock).
LATEST_ADVANCE_SQL = """
SELECT DISTINCT customer_id, phone_e164 FROM sms.ledger
WHERE journey_entry IS NOT NULL AND kind = ? AND state IN ('planned', 'deferred')
  AND planned_at = (SELECT max(planned_at) FROM sms.ledger WHERE journey_entry IS NOT NULL)
"""


def build_journey_gate(kind: str):
    """The campaigns' compliance suite of ``kind``, on the messages of the latest advance:
    blocking, so a failure stops the dispatch of that run and of the runs after it."""
    return build_check(
        Dataset(
            suite=PLAN_GATES[kind],
            asset=tuple(JOURNEYS_KEY.path),
            description=(
                f"Compliance gate on the {kind} journey messages the latest advance is about to "
                f"send (planned and deferred rows): {PLAN_GATE_RULES[kind]}, none suppressed, "
                "invalid or not mobile, none the reachability rule refuses."
            ),
            query=lambda start, end: audience_query(LATEST_ADVANCE_SQL, [kind]),
            phone_columns=("phone_e164",),
            example_columns=AUDIENCE_EXAMPLE_COLUMNS,
        )
    )


journey_gates = [build_journey_gate(kind) for kind in ("marketing", "transactional")]


def journeys_metadata(reports: list[advance.JourneyReport]) -> dict:
    due = [r.next_due_at for r in reports if r.next_due_at is not None]
    rows = [
        (
            r.journey_id, r.entered, sum(r.not_entered.values()), r.advanced,
            sum(r.exited.values()), r.completed, r.written,
            ", ".join(f"{k} {v}" for k, v in sorted(r.messages.items())),
        )
        for r in reports
    ]  # fmt: skip
    return {
        "journeys": len(reports),
        "entered": sum(r.entered for r in reports),
        "messages_written": sum(r.written for r in reports),
        "messages_withdrawn_at_exit": sum(r.withdrawn for r in reports),
        "messages_displaced": sum(r.displaced for r in reports),
        # The sensor reads this to know when to look again without opening the warehouse.
        "next_due_at": min(due).isoformat() if due else "",
        "by_journey": MetadataValue.md(
            md_table(
                [
                    "journey",
                    "entered",
                    "not entered",
                    "advanced",
                    "exited",
                    "completed",
                    "messages",
                    "states",
                ],
                rows,
            )  # fmt: skip
        ),
        "exit_reasons": MetadataValue.json({r.journey_id: r.exited for r in reports}),
        "not_entered_reasons": MetadataValue.json({r.journey_id: r.not_entered for r in reports}),
    }


# The dispatch is a run of its own, started when an advance succeeds: in one run with the
# advance, the dbt models that read the ledger would have to wait for it, and dbt would be
# started once before and once after (many seconds each).
JOURNEYS_SELECTION = (
    AssetSelection.assets(SMS_EVENTS_KEY, CONSENT_CATCH_UP_KEY, JOURNEYS_KEY) | INTRADAY_SELECTION
)
journeys_job = define_asset_job(
    "advance_journeys",
    selection=JOURNEYS_SELECTION,
    description="Load outcome events and consent files, rebuild the journey event stream and "
    "advance every journey; the dispatch job follows (journeys_then_dispatch).",
)


def due_for_a_look(
    now: dt.datetime,
    next_due: dt.datetime | None,
    last_run: dt.datetime | None,
    landed_since_run: bool,
    every: dt.timedelta,
) -> str | None:
    """Why the sensor should start an advance now, or None. Pure, for the tests."""
    if last_run is None:
        return "no advance yet"
    if landed_since_run:
        return "new data landed since the last advance"
    if next_due is not None and next_due <= now:
        return f"a step fell due at {next_due:%H:%M}Z"
    if now - last_run >= every:
        return f"no advance for {every}"
    return None


# Raw tables whose new rows may start or end a journey within the hour.
LANDING_KEYS = [
    AssetKey(["raw", name])
    for name in ("shop_checkouts", "shop_orders", "crm_consent", "pos_transactions")
]


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[journeys_job],
    request_job=dispatch_job,
    default_status=DefaultSensorStatus.STOPPED,
    minimum_interval_seconds=30,
    description="Sends what an advance made due: the dispatch job after each advance.",
)
def journeys_then_dispatch(context: RunStatusSensorContext):
    return RunRequest(run_key=f"dispatch-after-{context.dagster_run.run_id}")


@sensor(
    job=journeys_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.STOPPED,
    description="Starts an advance when new shop, POS or consent data has been loaded, when "
    "a journey step falls due, or at least every 15 minutes.",
)
def journeys_sensor(context: SensorEvaluationContext):
    instance = context.instance
    running = instance.get_runs(
        filters=RunsFilter(
            job_name=journeys_job.name,
            statuses=[
                DagsterRunStatus.QUEUED,
                DagsterRunStatus.NOT_STARTED,
                DagsterRunStatus.STARTED,
            ],
        ),
        limit=1,
    )
    if running:
        return SkipReason(f"an advance is already under way (run {running[0].run_id})")
    last = instance.get_latest_materialization_event(JOURNEYS_KEY)
    last_run = dt.datetime.fromtimestamp(last.timestamp, dt.UTC) if last is not None else None
    next_due = None
    if last is not None and last.asset_materialization is not None:
        value = last.asset_materialization.metadata.get("next_due_at")
        text = getattr(value, "value", value)
        next_due = dt.datetime.fromisoformat(text) if text else None
    landed = False
    if last is not None:
        for key in LANDING_KEYS:
            event = instance.get_latest_materialization_event(key)
            if event is not None and event.timestamp > last.timestamp:
                landed = True
    now = dt.datetime.now(dt.UTC)
    why = due_for_a_look(now, next_due, last_run, landed, dt.timedelta(minutes=15))
    if why is None:
        return SkipReason("nothing landed and nothing due")
    return RunRequest(run_key=f"journeys-{now:%Y%m%dT%H%M}", tags={"reason": why})
