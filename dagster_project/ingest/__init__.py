"""Ingest: landing files -> ``raw`` schema. Assets, jobs, schedules and the landing sensor."""

from dagster import Definitions

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

defs = Definitions(
    assets=[*reference_assets, *daily_assets, sms_events, crm_consent_catch_up],
    jobs=[ingest_reference_job, ingest_daily_job, ingest_sms_events_job],
    schedules=[ingest_reference_daily, ingest_daily_morning],
    sensors=[landing_sensor, sms_events_sensor],
)
