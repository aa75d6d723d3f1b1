"""Dagster assets of the ``activation`` group: one plan per campaign and day, and the dispatch.

Thin: the rules live in ``eligibility``, the plan in ``planner``, the sending in
``dispatch`` and the gateway package. Plans run in priority order (each plan
depends on the next higher-priority one), so the frequency caps see what a
higher-priority campaign already took. Each plan carries the compliance gate
(suite ``sms_audience`` over its sendable rows, always blocking); the dispatch
sits downstream of every plan and of the marts' gates and refuses to run while
any of them failed.
"""

import datetime as dt

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    Config,
    DailyPartitionsDefinition,
    DefaultScheduleStatus,
    Failure,
    MaterializeResult,
    MetadataValue,
    RunRequest,
    ScheduleEvaluationContext,
    asset,
    define_asset_job,
    schedule,
)
from pydantic import Field

from dagster_project import settings
from dagster_project.activation import dispatch as dispatching
from dagster_project.activation import eligibility, planner
from dagster_project.activation.campaigns import Campaign, load_campaigns, load_policy
from dagster_project.activation.gateway.resource import GatewayResource
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
        "dim_customer_segments",
        "fct_customer_segment_history",
        "fct_order_lines",
        "dim_sms_audience",
        "dim_sms_consent",
        "dim_sms_suppression",
    )
]


def _validate_template(text: str) -> None:
    from dagster_project.activation.messages import validate_template

    validate_template(text)


def campaigns() -> list[Campaign]:
    """The campaign files, validated (a broken file fails loading, naming file and field)."""
    return load_campaigns(settings.campaigns_dir(), _validate_template)


def policy():
    return load_policy(settings.campaigns_dir() / "settings" / "policy.yml")


def prices():
    from dagster_project.activation.pricing import load_prices

    return load_prices(settings.campaigns_dir() / "pricing" / "sms.yml")


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


def plan_key(campaign: Campaign) -> AssetKey:
    return AssetKey(["activation", "plan", campaign.id])


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
    def _plan(context: AssetExecutionContext, warehouse: WarehouseResource, config: PlanConfig):
        require_passing_gates(context)
        day = dt.date.fromisoformat(context.partition_key)
        now = _now(config.now, day)
        current = {c.id: c for c in campaigns()}.get(campaign.id)
        if current is None:
            raise RuntimeError(f"campaign file {campaign.source} is gone; reload the code location")
        with warehouse.get_connection() as conn:
            planner.ledger.ensure(conn)
            plan = planner.build_plan(
                conn,
                current,
                day,
                now,
                policy(),
                planner.default_renderer_factory,
                prices(),
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
        suite="sms_audience",
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


_campaigns = campaigns()
plan_assets = [
    build_plan_asset(c, _campaigns[i - 1] if i else None) for i, c in enumerate(_campaigns)
]
plan_checks = [build_plan_check(c) for c in _campaigns]


@asset(
    key=AssetKey(["activation", "dispatch"]),
    group_name="activation",
    # Outcome events and landed consent files load first: an opt-out received before this
    # run, by SMS reply or in the CRM, is honoured by it.
    deps=[*(plan_key(c) for c in _campaigns), SMS_EVENTS_KEY, CONSENT_CATCH_UP_KEY],
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    description=(
        "Sends every due message through the gateway: re-checks consent, suppression and the "
        "recipient's local window at send time, sends in batches, writes every final state to "
        "the ledger. Refuses to run while a blocking gate upstream failed."
    ),
)
def sms_dispatch(
    context: AssetExecutionContext,
    warehouse: WarehouseResource,
    gateway: GatewayResource,
    config: DispatchConfig,
) -> MaterializeResult:
    require_passing_gates(context)
    now = _now(config.now)
    drift = abs((now - dt.datetime.now(dt.UTC)).total_seconds())
    if drift > CLOCK_TOLERANCE_S and gateway.kind != "sandbox":
        # Quiet hours are judged on this clock: a replayed clock may only reach the sandbox.
        raise Failure(
            f"dispatch at {now.isoformat()} is {drift / 3600:.1f} h off the real clock: "
            f"a clock other than now is allowed only with the sandbox gateway, not {gateway.kind}"
        )
    by_id = {c.id: c for c in campaigns()}
    with warehouse.get_connection() as conn:
        report = dispatching.dispatch(
            conn,
            gateway,
            by_id,
            now,
            policy=policy(),
            run_id=context.run.run_id,
            batch_size=config.batch_size,
            log=context.log.info,
            events_dir=settings.events_dir(),
            landing_dir=settings.landing_dir(),
            links_path=tracked_links.registry_path(),
        )
    context.log.info(f"dispatch at {now:%Y-%m-%d %H:%M} UTC: {report}")
    return MaterializeResult(
        metadata={
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
    )


plan_job = define_asset_job(
    "plan_campaigns",
    selection=AssetSelection.assets(*plan_assets),
    partitions_def=plan_partitions,
    description="Plan every active campaign for the day, in priority order.",
)
dispatch_job = define_asset_job(
    "dispatch",
    selection=AssetSelection.assets(SMS_EVENTS_KEY, CONSENT_CATCH_UP_KEY, sms_dispatch),
    description="Load new outcome events and every landed CRM consent file not loaded yet "
    "(an opt-out counts at once), then send what is due in each recipient's window.",
)


@schedule(
    job=plan_job,
    cron_schedule="0 7 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
)
def plan_daily(context: ScheduleEvaluationContext) -> RunRequest:
    """Every morning after the load and the build: plan the day's campaigns."""
    day = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return RunRequest(run_key=day, partition_key=day)


@schedule(
    job=dispatch_job,
    cron_schedule="5 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
)
def dispatch_hourly(context: ScheduleEvaluationContext) -> RunRequest:
    """Every hour: send what has become due in its recipients' windows."""
    return RunRequest(run_key=context.scheduled_execution_time.isoformat())
