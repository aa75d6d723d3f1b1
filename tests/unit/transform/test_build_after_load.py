"""Which successful loads start a dbt build (the marts_after_load sensor's rule)."""

from dagster_project.ingest.jobs import (
    ingest_daily_job,
    ingest_reference_daily,
    ingest_reference_job,
)
from dagster_project.transform import SCHEDULE_TAG, build_after

SCHEDULED = {SCHEDULE_TAG: ingest_reference_daily.name}


def test_the_daily_load_builds_whether_scheduled_or_not():
    assert build_after(ingest_daily_job.name, {}) == "ingest_daily succeeded"
    assert build_after(ingest_daily_job.name, {SCHEDULE_TAG: "ingest_daily_morning"})


def test_the_scheduled_reference_reload_leaves_the_build_to_the_daily_load():
    assert build_after(ingest_reference_job.name, SCHEDULED) is None


def test_a_reference_reload_by_hand_or_by_another_schedule_builds():
    assert build_after(ingest_reference_job.name, {}) == "ingest_reference succeeded"
    assert build_after(ingest_reference_job.name, {SCHEDULE_TAG: "catalog_hourly"})
