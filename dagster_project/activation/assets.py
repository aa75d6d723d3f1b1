"""Dagster assets of the ``activation`` group: one plan per campaign and day, the dispatch,
and the send ledger and link registry it writes.

Thin: the rules live in ``eligibility``, the plan in ``planner``, the sending in
``dispatch`` and the gateway package; the campaign files come from the
``campaigns`` resource, read once per run. Plans run in priority order (each
plan depends on the next higher-priority one), so the frequency caps see what a
higher-priority campaign already took. Each plan carries the compliance gate
(suite ``sms_audience`` over its sendable rows, always blocking); the dispatch
sits downstream of every plan and of the marts' gates and refuses to run while
any of them failed.

``build_defs`` reads the campaign folder without trusting it: a file that does not
load becomes an asset of its own whose check fails with the file's error, outside
the priority chain, so the other campaigns, ingest and outcome loading go on.
"""

import datetime as dt
from pathlib import Path

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    AssetSpec,
    Config,
    DailyPartitionsDefinition,
    DefaultScheduleStatus,
    Definitions,
    Failure,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    ScheduleEvaluationContext,
    asset,
    define_asset_job,
    multi_asset,
    schedule,
)
from pydantic import Field

from dagster_project import settings
from dagster_project.activation import dispatch as dispatching
from dagster_project.activation import eligibility, planner
from dagster_project.activation.campaigns import BrokenFile, Campaign, CampaignError
from dagster_project.activation.gateway.resource import GatewayResource, gateway_from_env
from dagster_project.activation.resources import CampaignsResource, scan
from dagster_project.contracts import tracked_links
from dagster_project.lib.metadata import mask_columns, md_table
from dagster_project.quality.checks import build_check
from dagster_project.quality.datasets import AUDIENCE_EXAMPLE_COLUMNS, Dataset, audience_query
from dagster_project.quality.gates import require_passing_gates
from dagster_project.warehouse import WAREHOUSE_POOL, WarehouseResource

plan_partitions = DailyPartitionsDefinition(
    start_date=settings.partition_start(), timezone="UTC", end_offset=1
)
MART_INPUTS = [
    AssetKey(["marts", name])
    for name in (
        "dim_customers",
        "customer_segments",
        "customer_segment_history",
        "fct_order_lines",
        "sms_audience",
        "sms_consent",
        "sms_suppression",
    )
]


class PlanConfig(Config):
    now: str | None = Field(
        default=None,
        description="The moment to plan at, ISO 8601 UTC (default: now; for the partition's "
        "day when it is not today, its 00:00 UTC... the window decides the rest).",
    )


class DispatchConfig(Config):
    now: str | None = Field(default=None, description="The moment to send at (default: now).")
    batch_size: int = Field(default=1000, ge=1)


# How far a dispatch's configured clock may be from the real one with a real gateway.
CLOCK_TOLERANCE_S = 300

# The ingest assets this layer's sends wait for (tables it reads, not code it imports):
# the webhook receiver's events, and every landed CRM consent file.
SMS_EVENTS_KEY = AssetKey(["raw", "sms_events"])
CONSENT_CATCH_UP_KEY = AssetKey(["ingest", "crm_consent_catch_up"])
# What the dispatch step materializes: its run record, and the two stores it writes that
# the warehouse reads back as dbt sources (``sms.ledger``, ``sms.links``) for attribution.
DISPATCH_KEY = AssetKey(["activation", "dispatch"])
LEDGER_KEY = AssetKey(["sms", "ledger"])
LINKS_KEY = AssetKey(["sms", "links"])
PLAN_PREFIX = ["activation", "plan"]
# The compliance suite every plan is checked with (expectations/sms_audience.json).
PLAN_GATE = "sms_audience"


def plan_key(campaign: Campaign | BrokenFile) -> AssetKey:
    return AssetKey([*PLAN_PREFIX, campaign.id])


def _now(value: str | None, day: dt.date | None = None) -> dt.datetime:
    if value:
        moment = dt.datetime.fromisoformat(value)
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    now = dt.datetime.now(dt.UTC)
    if day is not None and day != now.date():
        return dt.datetime.combine(day, dt.time(0), tzinfo=dt.UTC)
    return now


def funnel_table(plan: planner.Plan) -> str:
    rows = [
        (step, f"{reached:,}", f"{stopped:,}")
        for step, reached, stopped in eligibility.funnel(plan.decisions)
    ]
    counts = plan.counts()
    rows += [(f"= {state}", f"{counts.get(state, 0):,}", "") for state in ("planned", "deferred")]
    return md_table(["step", "reached", "stopped here"], rows)


def _samples(plan: planner.Plan) -> str:
    sample = plan.rows[plan.rows["state"].isin(["planned", "deferred"])].head(5)
    cols = ["customer_id", "phone_e164", "variant", "language", "segments", "body"]
    values = [[r[c] for c in cols] for r in sample.to_dict("records")]
    return md_table(cols, mask_columns(cols, values, ["phone_e164"]))


def plan_metadata(plan: planner.Plan) -> dict:
    counts = plan.counts()
    sendable = plan.rows[plan.rows["state"].isin(["planned", "deferred"])]
    reasons = plan.rows[plan.rows["state"] == "skipped"]["reason"].value_counts()
    return {
        "candidates": len(plan.decisions),
        "already_sent_today": plan.already_sent,
        "planned": counts.get("planned", 0),
        "deferred": counts.get("deferred", 0),
        "held_out": counts.get("held_out", 0),
        "skipped": counts.get("skipped", 0),
        "segments_total": int(sendable["segments"].fillna(0).sum()),
        "cost_usd": round(float(sendable["cost_usd"].fillna(0).sum()), 2),
        "funnel": MetadataValue.md(funnel_table(plan)),
        "skip_reasons": MetadataValue.md(md_table(["reason", "customers"], reasons.items())),
        "samples": MetadataValue.md(_samples(plan)),
    }


def build_plan_asset(campaign: Campaign, higher: Campaign | None):
    @asset(
        key=plan_key(campaign),
        group_name="activation",
        partitions_def=plan_partitions,
        deps=[*MART_INPUTS, *([plan_key(higher)] if higher else [])],
        pool=WAREHOUSE_POOL,
        kinds={"duckdb"},
        description=(
            f"Plan of campaign **{campaign.name}** (`{campaign.source}`) for the day: one ledger "
            "row per candidate with the rule that kept or dropped them, the message and its cost. "
            f"Priority {campaign.priority}; planned after higher-priority campaigns so the "
            "frequency caps see their slots."
        ),
        tags={"campaign": campaign.id, "kind": campaign.kind},
    )
    def _plan(
        context: AssetExecutionContext,
        warehouse: WarehouseResource,
        campaigns: CampaignsResource,
        config: PlanConfig,
    ):
        require_passing_gates(context)
        day = dt.date.fromisoformat(context.partition_key)
        now = _now(config.now, day)
        book = campaigns.book
        current = book.get(campaign.id)  # as the file reads now, or its error
        with warehouse.get_connection() as conn:
            planner.ledger.ensure(conn)
            plan = planner.build_plan(
                conn,
                current,
                day,
                now,
                book.policy,
                planner.default_renderer_factory,
                book.prices,
                run_id=context.run.run_id,
            )
            written = planner.ledger.write_plan(conn, current.id, day, plan.rows, plan.links)
        context.log.info(f"{current.id} {day}: {plan.counts()} ({written})")
        return MaterializeResult(
            metadata={**plan_metadata(plan), **written, "day": day.isoformat()}
        )

    return _plan


def build_plan_check(campaign: Campaign):
    dataset = Dataset(
        suite=PLAN_GATE,
        asset=tuple(plan_key(campaign).path),
        description=(
            "Compliance gate on the messages this plan is about to send (planned and deferred "
            "rows), always blocking: no phone without an explicit opt-in as its latest consent "
            "event, none suppressed, invalid or not mobile, no customer or phone twice."
        ),
        partitioned=True,
        query=lambda start, end: audience_query(
            "SELECT customer_id, phone_e164 FROM sms.ledger WHERE campaign_id = ? "
            "AND plan_day = ? AND state IN ('planned', 'deferred')",
            [campaign.id, end],
        ),
        phone_columns=("phone_e164",),
        example_columns=AUDIENCE_EXAMPLE_COLUMNS,
        latest_sql=f"SELECT max(plan_day) FROM sms.ledger WHERE campaign_id = '{campaign.id}'",
    )
    return build_check(dataset)


def build_broken_file_asset(broken: BrokenFile):
    """A campaign file that does not load: an asset that fails with the file's error, and a
    failed check saying so. Outside the priority chain and upstream of nothing, so it
    stops no other campaign and no send."""
    key = plan_key(broken)

    @asset(
        key=key,
        group_name="activation",
        partitions_def=plan_partitions,
        check_specs=[AssetCheckSpec("campaign_file", asset=key, blocking=False)],
        kinds={"yaml"},
        description=(
            f"Campaign file `{broken.path}` does not load, so this campaign is not planned: "
            f"{broken.error}"
        ),
        tags={"campaign": broken.id},
    )
    def _broken(context: AssetExecutionContext, campaigns: CampaignsResource, config: PlanConfig):
        try:
            campaigns.book.get(broken.id)
            error = f"{broken.path} loads now: reload the code location to plan it"
        except CampaignError as exc:
            error = str(exc)
        yield AssetCheckResult(
            check_name="campaign_file",
            passed=False,
            severity=AssetCheckSeverity.ERROR,
            description=error,
            metadata={"file": str(broken.path), "error": error},
        )
        raise Failure(description=error, metadata={"file": str(broken.path)})

    return _broken


def build_dispatch_asset(planned: list[AssetKey]):
    @multi_asset(
        name="activation__dispatch",
        specs=[
            AssetSpec(
                DISPATCH_KEY,
                group_name="activation",
                kinds={"duckdb"},
                # Outcome events and landed consent files load first: an opt-out received
                # before this run, by SMS reply or in the CRM, is honoured by it.
                deps=[*planned, SMS_EVENTS_KEY, CONSENT_CATCH_UP_KEY],
                description=(
                    "Sends every due message through the gateway: re-checks consent, "
                    "suppression and the recipient's local window at send time, sends in "
                    "batches, writes every final state to the ledger. Refuses to run while a "
                    "blocking gate upstream failed."
                ),
            ),
            AssetSpec(
                LEDGER_KEY,
                group_name="activation",
                kinds={"duckdb"},
                deps=[DISPATCH_KEY],
                description=(
                    "The send ledger (`sms.ledger`): one row per planned message, written by "
                    "the plans, its state carried to the end by the dispatch. The warehouse "
                    "reads it back (dbt source `sms.ledger`) to measure each campaign."
                ),
            ),
            AssetSpec(
                LINKS_KEY,
                group_name="activation",
                kinds={"duckdb"},
                deps=[DISPATCH_KEY],
                description=(
                    "Tracked links (`sms.links`, and the registry file the webhook receiver "
                    "redirects from): one row per link token of a planned message, registered "
                    "before its batch leaves."
                ),
            ),
        ],
        pool=WAREHOUSE_POOL,
    )
    def sms_dispatch(
        context: AssetExecutionContext,
        warehouse: WarehouseResource,
        gateway: GatewayResource,
        campaigns: CampaignsResource,
        config: DispatchConfig,
    ):
        require_passing_gates(context, [DISPATCH_KEY])
        now = _now(config.now)
        drift = abs((now - dt.datetime.now(dt.UTC)).total_seconds())
        if drift > CLOCK_TOLERANCE_S and gateway.kind != "sandbox":
            # Quiet hours are judged on this clock: a replayed clock may only reach the sandbox.
            raise Failure(
                f"dispatch at {now.isoformat()} is {drift / 3600:.1f} h off the real clock: a "
                f"clock other than now is allowed only with the sandbox gateway, not "
                f"{gateway.kind}"
            )
        book = campaigns.book
        with warehouse.get_connection() as conn:
            report = dispatching.dispatch(
                conn,
                gateway,
                book.by_id,
                now,
                policy=book.policy,
                run_id=context.run.run_id,
                batch_size=config.batch_size,
                log=context.log.info,
                events_dir=settings.events_dir(),
                landing_dir=settings.landing_dir(),
                links_path=tracked_links.registry_path(),
            )
            states = dict(
                conn.execute("SELECT state, count(*) FROM sms.ledger GROUP BY 1").fetchall()
            )
            links = conn.execute("SELECT count(*) FROM sms.links").fetchone()[0]
        context.log.info(f"dispatch at {now:%Y-%m-%d %H:%M} UTC: {report}")
        yield MaterializeResult(asset_key=DISPATCH_KEY, metadata=dispatch_metadata(report, gateway))
        yield MaterializeResult(
            asset_key=LEDGER_KEY,
            metadata={"rows": sum(states.values()), "states": MetadataValue.json(states)},
        )
        yield MaterializeResult(
            asset_key=LINKS_KEY,
            metadata={"rows": links, "registry": str(tracked_links.registry_path())},
        )

    return sms_dispatch


def dispatch_metadata(report: dispatching.DispatchReport, gateway: GatewayResource) -> dict:
    return {
        "due": report.due,
        "accepted": report.sent.get("accepted", 0),
        "failed": report.sent.get("failed", 0),
        "unknown": report.sent.get("unknown", 0),
        "deferred": report.deferred,
        "skipped_at_send_time": sum(report.skipped.values()),
        "skip_reasons": MetadataValue.json(report.skipped),
        "outcomes": MetadataValue.json(report.outcomes),
        "recovered_unknown": report.recovered_unknown,
        "resent_after_crash": report.resent_after_crash,
        "window_closed_in_queue": report.window_closed_in_queue,
        "expired_at_provider": report.expired_at_provider,
        "gateway": gateway.kind,
    }


PLAN_SELECTION = AssetSelection.key_prefixes(PLAN_PREFIX)
DISPATCH_SELECTION = AssetSelection.assets(DISPATCH_KEY, LEDGER_KEY, LINKS_KEY)


def build_defs(folder: Path | None = None) -> Definitions:
    """The activation domain for the campaign files in ``folder`` (default: the settings'),
    whatever state they are in."""
    campaigns, broken = scan(folder or settings.campaigns_dir())
    plans = [build_plan_asset(c, campaigns[i - 1] if i else None) for i, c in enumerate(campaigns)]
    plan_job = define_asset_job(
        "plan_campaigns",
        selection=PLAN_SELECTION,
        partitions_def=plan_partitions,
        description="Plan every active campaign for the day, in priority order.",
    )
    dispatch_job = define_asset_job(
        "dispatch",
        selection=AssetSelection.assets(SMS_EVENTS_KEY, CONSENT_CATCH_UP_KEY) | DISPATCH_SELECTION,
        description="Load new outcome events and every landed CRM consent file not loaded yet "
        "(an opt-out counts at once), then send what is due in each recipient's window.",
    )
    return Definitions(
        assets=[
            *plans,
            *(build_broken_file_asset(b) for b in broken),
            build_dispatch_asset([plan_key(c) for c in campaigns]),
        ],
        asset_checks=[build_plan_check(c) for c in campaigns],
        jobs=[plan_job, dispatch_job],
        schedules=[plan_daily(plan_job), dispatch_hourly(dispatch_job)],
        resources={
            "gateway": gateway_from_env(),
            "campaigns": CampaignsResource(folder=str(folder) if folder else ""),
        },
    )


def plan_daily(job):
    @schedule(
        job=job,
        cron_schedule="0 7 * * *",
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.STOPPED,
    )
    def plan_daily(context: ScheduleEvaluationContext) -> RunRequest:
        """Every morning after the load and the build: plan the day's campaigns."""
        day = context.scheduled_execution_time.strftime("%Y-%m-%d")
        return RunRequest(run_key=day, partition_key=day)

    return plan_daily


def dispatch_hourly(job):
    @schedule(
        job=job,
        cron_schedule="5 * * * *",
        execution_timezone="UTC",
        default_status=DefaultScheduleStatus.STOPPED,
    )
    def dispatch_hourly(context: ScheduleEvaluationContext) -> RunRequest:
        """Every hour: send what has become due in its recipients' windows."""
        return RunRequest(run_key=context.scheduled_execution_time.isoformat())

    return dispatch_hourly
