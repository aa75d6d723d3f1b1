"""Ingest: landing files -> ``raw`` schema. Assets, jobs, schedules and the landing sensor."""

from dagster import AssetKey, AssetSpec, Definitions

from dagster_project.ingest.assets import (
    crm_consent_catch_up,
    daily_assets,
    reference_assets,
    sms_events,
)
from dagster_project.ingest.jobs import (
    ingest_daily_job,
    ingest_daily_morning,
    ingest_reference_daily,
    ingest_reference_job,
    ingest_sms_events_job,
)
from dagster_project.ingest.sensors import landing_sensor, sms_events_sensor

# The phones every load parsed: a table the loaders keep up to date beside the raw tables
# (``tables.py``), read by dbt as source ``ingest.phone_cache``.
phone_cache = AssetSpec(
    AssetKey(["ingest", "phone_cache"]),
    group_name="ingest",
    deps=daily_assets,
    description="Every free-typed phone the loaders parsed: E.164 form, validity, region and "
    "line type, one row per raw value and default region; written by every load.",
    kinds={"duckdb"},
)

defs = Definitions(
    assets=[*reference_assets, *daily_assets, sms_events, crm_consent_catch_up, phone_cache],
    jobs=[ingest_reference_job, ingest_daily_job, ingest_sms_events_job],
    schedules=[ingest_reference_daily, ingest_daily_morning],
    sensors=[landing_sensor, sms_events_sensor],
)
