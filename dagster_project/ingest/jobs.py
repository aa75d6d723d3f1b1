"""Ingest jobs and their daily schedules."""

from __future__ import annotations

from datetime import datetime, timedelta

from dagster import (
    AssetSelection,
    RunRequest,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from dagster_project.ingest.assets import (
    daily_assets,
    daily_partitions,
    reference_assets,
    sms_events,
)

# Tags that make one run cover a range of partitions (single-run backfill).
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"

ingest_reference_job = define_asset_job(
    "ingest_reference",
    selection=AssetSelection.assets(*reference_assets),
    description="Reload the reference snapshots (stores, product catalog).",
)

ingest_daily_job = define_asset_job(
    "ingest_daily",
    selection=AssetSelection.assets(*daily_assets),
    partitions_def=daily_partitions,
    description="Load delivery days of every daily source into raw.*.",
)

ingest_sms_events_job = define_asset_job(
    "ingest_sms_events",
    selection=AssetSelection.assets(sms_events),
    description="Load new outcome events from the webhook receiver's landing log.",
)


def range_run_request(start: str, end: str, **kwargs) -> RunRequest:
    """One run for the partitions ``start..end`` (a single partition when equal)."""
    if start == end:
        return RunRequest(partition_key=start, **kwargs)
    tags = {RANGE_START_TAG: start, RANGE_END_TAG: end, **kwargs.pop("tags", {})}
    return RunRequest(tags=tags, **kwargs)


@schedule(job=ingest_reference_job, cron_schedule="50 5 * * *", execution_timezone="UTC")
def ingest_reference_daily(context: ScheduleEvaluationContext) -> RunRequest:
    """Refresh the store list and catalog before the daily load."""
    return RunRequest(run_key=context.scheduled_execution_time.strftime("%Y-%m-%d"))


@schedule(job=ingest_daily_job, cron_schedule="0 6 * * *", execution_timezone="UTC")
def ingest_daily_morning(context: ScheduleEvaluationContext) -> RunRequest:
    """Every morning, (re)load yesterday and today in one run.

    Yesterday is reloaded because exports dropped late in the day land after
    yesterday's own run; reloading replaces exactly that day, so it is safe.
    """
    when: datetime = context.scheduled_execution_time
    today = when.strftime("%Y-%m-%d")
    yesterday = (when - timedelta(days=1)).strftime("%Y-%m-%d")
    return range_run_request(yesterday, today, run_key=today)
