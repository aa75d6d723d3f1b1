"""Activation: campaign files, the per-campaign plan, rendering, the gateway and the ledger."""

from dagster import Definitions

from dagster_project.activation.assets import (
    dispatch_hourly,
    dispatch_job,
    plan_assets,
    plan_checks,
    plan_daily,
    plan_job,
    sms_dispatch,
)
from dagster_project.activation.gateway.resource import gateway_from_env

defs = Definitions(
    assets=[*plan_assets, sms_dispatch],
    asset_checks=plan_checks,
    jobs=[plan_job, dispatch_job],
    schedules=[plan_daily, dispatch_hourly],
    resources={"gateway": gateway_from_env()},
)
