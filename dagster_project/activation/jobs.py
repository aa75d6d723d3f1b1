"""The activation domain's definitions: plan and dispatch jobs, their schedules, resources.

``build_defs`` reads the campaign folder without trusting it: a file that does not
load becomes an asset of its own whose check fails with the file's error (see
``assets.build_broken_file_asset``), so the other campaigns, ingest and outcome
loading go on.
"""

from pathlib import Path

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    Definitions,
    ScheduleDefinition,
    build_schedule_from_partitioned_job,
    define_asset_job,
)

from dagster_project import settings
from dagster_project.activation.assets import (
    CONSENT_CATCH_UP_KEY,
    DISPATCH_KEY,
    LEDGER_KEY,
    LINKS_KEY,
    PLAN_PREFIX,
    SMS_EVENTS_KEY,
    build_broken_file_asset,
    build_plan_asset,
    build_plan_check,
    plan_key,
    plan_partitions,
)
from dagster_project.activation.dispatch_asset import build_dispatch_asset
from dagster_project.activation.gateway.resource import gateway_from_env
from dagster_project.activation.resources import CampaignsResource, scan

PLAN_SELECTION = AssetSelection.key_prefixes(PLAN_PREFIX)
DISPATCH_SELECTION = AssetSelection.assets(DISPATCH_KEY, LEDGER_KEY, LINKS_KEY)
# Started by the hourly schedule, and by the journeys' sensor after each advance.
dispatch_job = define_asset_job(
    "dispatch",
    selection=AssetSelection.assets(SMS_EVENTS_KEY, CONSENT_CATCH_UP_KEY) | DISPATCH_SELECTION,
    description="Load new outcome events and every landed CRM consent file not loaded yet "
    "(an opt-out counts at once), then send what is due in each recipient's window.",
)


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
    return Definitions(
        assets=[
            *plans,
            *(build_broken_file_asset(b) for b in broken),
            build_dispatch_asset([plan_key(c) for c in campaigns]),
        ],
        asset_checks=[build_plan_check(c) for c in campaigns],
        jobs=[plan_job, dispatch_job],
        schedules=[
            # Every morning after the load and the build: the day's plans (one run per day).
            build_schedule_from_partitioned_job(
                plan_job,
                name="plan_daily",
                hour_of_day=7,
                default_status=DefaultScheduleStatus.STOPPED,
            ),
            # Every hour: send what has become due in its recipients' windows.
            ScheduleDefinition(
                name="dispatch_hourly",
                job=dispatch_job,
                cron_schedule="5 * * * *",
                execution_timezone="UTC",
                default_status=DefaultScheduleStatus.STOPPED,
            ),
        ],
        resources={
            "gateway": gateway_from_env(),
            "campaigns": CampaignsResource(folder=str(folder) if folder else ""),
        },
    )
