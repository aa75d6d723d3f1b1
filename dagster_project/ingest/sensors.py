"""The landing sensor: start ingestion when a day's files arrive or change.

A (source, day) is requested when its folder has never been materialized, or
when its files differ from what the sensor saw before (a late file dropped into
an old day, a corrected re-export). Adjacent days become one run. A folder that
is no delivery day (``2026-12-32``, ``2026-12-2``, a day after today) is never
requested and never stops the sensor: each load's ``landing_layout`` check
names it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from dagster_project import settings
from dagster_project.ingest.assets import daily_partitions, raw_key
from dagster_project.ingest.events import FILE_GLOB
from dagster_project.ingest.jobs import (
    ingest_daily_job,
    ingest_reference_job,
    ingest_sms_events_job,
    range_run_request,
)
from dagster_project.ingest.landing import contiguous_ranges
from dagster_project.ingest.loader import day_folders, list_files
from dagster_project.ingest.specs import DAILY_SPECS, REFERENCE_SPECS


def fingerprint(files: Iterable[Path]) -> str:
    """Changes when a file is added, removed, rewritten or touched."""
    h = hashlib.sha1()
    for f in sorted(files):
        st = f.stat()
        h.update(f"{f.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def days_to_load(
    seen: dict[str, str], current: dict[str, str], materialized: set[str]
) -> list[date]:
    """Days whose files are new to the sensor and not loaded, or changed since last seen."""
    out = []
    for day, fp in current.items():
        if day in seen:
            if seen[day] != fp:
                out.append(date.fromisoformat(day))
        elif day not in materialized:
            out.append(date.fromisoformat(day))
    return out


@sensor(
    jobs=[ingest_daily_job, ingest_reference_job],
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Loads delivery days as their files land (and re-loads days whose files change).",
)
def landing_sensor(context: SensorEvaluationContext) -> SensorResult:
    root = settings.landing_dir()
    cursor: dict[str, dict[str, str]] = json.loads(context.cursor) if context.cursor else {}
    valid_days = set(daily_partitions.get_partition_keys())
    requests = []
    new_cursor: dict[str, dict[str, str]] = {}

    for spec in REFERENCE_SPECS:
        files = list_files(root, spec)
        if not files:
            continue
        fp = fingerprint(files)
        new_cursor[spec.entity] = {"file": fp}
        before = cursor.get(spec.entity, {}).get("file")
        loaded = context.instance.get_latest_materialization_event(raw_key(spec.entity))
        if before != fp and (before is not None or loaded is None):
            requests.append(
                RunRequest(
                    run_key=f"{spec.entity}:{fp}",
                    job_name=ingest_reference_job.name,
                    asset_selection=[raw_key(spec.entity)],
                )
            )

    for spec in DAILY_SPECS:
        current = {
            day.isoformat(): fingerprint(list_files(root, spec, day, day))
            for day in day_folders(root, spec)
            if day.isoformat() in valid_days
        }
        materialized = context.instance.get_materialized_partitions(raw_key(spec.entity))
        due = days_to_load(cursor.get(spec.entity, {}), current, materialized)
        new_cursor[spec.entity] = current
        for start, end in contiguous_ranges(due):
            run_key = (
                f"{spec.entity}:{start}:{end}:"
                + hashlib.sha1(
                    "".join(current[d.isoformat()] for d in _days(start, end)).encode()
                ).hexdigest()[:12]
            )
            requests.append(
                range_run_request(
                    start.isoformat(),
                    end.isoformat(),
                    run_key=run_key,
                    job_name=ingest_daily_job.name,
                    asset_selection=[raw_key(spec.entity)],
                )
            )
    return SensorResult(run_requests=requests, cursor=json.dumps(new_cursor, sort_keys=True))


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def event_log_size(directory: Path) -> int:
    """Total bytes of the landing log: it only ever grows, so a bigger number is new events."""
    return sum(p.stat().st_size for p in directory.glob(FILE_GLOB)) if directory.exists() else 0


@sensor(
    job=ingest_sms_events_job,
    minimum_interval_seconds=30,
    default_status=DefaultSensorStatus.RUNNING,
    description="Loads the webhook receiver's new events (receipts, replies, STOP, clicks) "
    "into raw.sms_events as they arrive.",
)
def sms_events_sensor(context: SensorEvaluationContext) -> SensorResult:
    size = event_log_size(settings.events_dir())
    seen = int(context.cursor) if context.cursor else 0
    if size == seen:  # (smaller: the log was reset; the next growth is new again)
        return SensorResult(run_requests=[], cursor=str(size))
    # The run key is the size: one run per growth, and a run that is still queued
    # covers the events that arrive meanwhile (the loader reads by offset).
    return SensorResult(run_requests=[RunRequest(run_key=f"events:{size}")], cursor=str(size))
