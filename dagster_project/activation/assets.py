"""Dagster assets of the ``activation`` group: one plan per campaign and day.

Thin: the rules live in ``eligibility``, the plan in ``planner``; the campaign
files come from the ``campaigns`` resource, read once per run. Plans run in
priority order (each plan depends on the next higher-priority one), so the
frequency caps see what a higher-priority campaign already took. Each plan
carries the compliance gate (suite ``sms_audience`` over its sendable rows,
always blocking). A campaign file that does not load is an asset of its own
whose check fails with the file's error, outside the priority chain. The keys
here are shared with the dispatch (``dispatch_asset``) and the jobs (``jobs``).
"""

import datetime as dt

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    Config,
    DailyPartitionsDefinition,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from dagster_project import opstore, settings
from dagster_project.activation import eligibility, planner
from dagster_project.activation.campaigns import BrokenFile, Campaign, CampaignError
from dagster_project.activation.resources import CampaignsResource
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
        "dim_sms_audience",  # not read, but its compliance gate must pass before a plan
        "dim_sms_reachability",
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
    workers: int | None = Field(
        default=None,
        ge=1,
        le=64,
        description="Worker processes sending in parallel (PostgreSQL operational store "
        "only); default SMS_DISPATCH_WORKERS, else 1.",
    )
    lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long a parallel worker holds the messages it claimed without "
        "renewing; a dead worker's messages are settled after it.",
    )


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
# The journeys' advance (``dagster_project.journeys``) writes ledger rows the dispatch sends.
JOURNEYS_KEY = AssetKey(["activation", "journeys"])
# The compliance suite a plan is checked with, by the campaign's kind (expectations/*.json):
# marketing needs an explicit opt-in; transactional needs none, but STOP still holds.
PLAN_GATES = {"marketing": "sms_audience", "transactional": "sms_transactional_audience"}


def plan_key(campaign: Campaign | BrokenFile) -> AssetKey:
    return AssetKey([*PLAN_PREFIX, campaign.id])


def configured_moment(value: str | None, day: dt.date | None = None) -> dt.datetime:
    """The run's clock: ``value`` (ISO 8601, UTC when it names no zone), else now; for a
    plan of another day than today, that day's 00:00 UTC (its window decides the rest)."""
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
        now = configured_moment(config.now, day)
        book = campaigns.book
        current = book.get(campaign.id)  # as the file reads now, or its error
        with warehouse.get_connection() as conn, opstore.connection(conn) as store:
            planner.ledger.ensure(store)
            plan = planner.build_plan(
                conn,
                current,
                day,
                now,
                book.policy,
                planner.default_renderer_factory,
                book.prices,
                run_id=context.run.run_id,
                store=store,
            )
            written = planner.ledger.write_plan(store, current.id, day, plan.rows, plan.links)
            # The plan's gate reads the warehouse's copy of the ledger: brought up to date.
            synced = opstore.sync_warehouse(store, conn)
        context.log.info(f"{current.id} {day}: {plan.counts()} ({written})")
        return MaterializeResult(
            metadata={
                **plan_metadata(plan),
                **written,
                "day": day.isoformat(),
                **opstore.sync_metadata(synced),
            }
        )

    return _plan


PLAN_GATE_RULES = {
    "marketing": "no phone without an explicit, complete opt-in as its latest consent event",
    "transactional": "no phone whose latest consent event is an opt-out",
}


def build_plan_check(campaign: Campaign):
    dataset = Dataset(
        suite=PLAN_GATES[campaign.kind],
        asset=tuple(plan_key(campaign).path),
        description=(
            "Compliance gate on the messages this plan is about to send (planned and deferred "
            f"rows), always blocking: {PLAN_GATE_RULES[campaign.kind]}, none suppressed, "
            "invalid or not mobile, none the reachability rule refuses, no customer or phone "
            "twice."
        ),
        partitioned=True,
        query=lambda start, end: audience_query(
            "SELECT customer_id, phone_e164 FROM sms.ledger WHERE campaign_id = ? "
            "AND plan_day = ? AND state IN ('planned', 'deferred')",
            [campaign.id, end],
        ),
        phone_columns=("phone_e164",),
        example_columns=(*AUDIENCE_EXAMPLE_COLUMNS, "transactional_blocked_reason")
        if campaign.kind == "transactional"
        else AUDIENCE_EXAMPLE_COLUMNS,
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
