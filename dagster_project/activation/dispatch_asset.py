"""The dispatch step as a Dagster asset, with the two stores it writes: the send ledger and the
tracked-link registry (``sms/ledger``, ``sms/links``, read back by dbt for attribution).

Thin: the sending is ``dispatch.dispatch``; the campaign files come from the
``campaigns`` resource, read once per run.
"""

import datetime as dt

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from dagster_project import opstore, settings
from dagster_project.activation import dispatch as dispatching
from dagster_project.activation.assets import (
    CLOCK_TOLERANCE_S,
    CONSENT_CATCH_UP_KEY,
    DISPATCH_KEY,
    JOURNEYS_KEY,
    LEDGER_KEY,
    LINKS_KEY,
    SMS_EVENTS_KEY,
    DispatchConfig,
    configured_moment,
)
from dagster_project.activation.gateway.resource import GatewayResource
from dagster_project.activation.resources import CampaignsResource
from dagster_project.contracts import tracked_links
from dagster_project.quality.gates import require_passing_gates
from dagster_project.warehouse import WAREHOUSE_POOL, WarehouseResource


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
                deps=[*planned, JOURNEYS_KEY, SMS_EVENTS_KEY, CONSENT_CATCH_UP_KEY],
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
        now = configured_moment(config.now)
        drift = abs((now - dt.datetime.now(dt.UTC)).total_seconds())
        if drift > CLOCK_TOLERANCE_S and gateway.kind != "sandbox":
            # Quiet hours are judged on this clock: a replayed clock may only reach the sandbox.
            raise Failure(
                f"dispatch at {now.isoformat()} is {drift / 3600:.1f} h off the real clock: a "
                f"clock other than now is allowed only with the sandbox gateway, not "
                f"{gateway.kind}"
            )
        workers = config.workers or settings.dispatch_workers()
        if workers > 1 and not opstore.external():
            raise Failure(
                f"workers={workers} needs the PostgreSQL operational store "
                "(SMS_OPSTORE=postgres): the embedded store takes one writer"
            )
        book = campaigns.book
        with warehouse.get_connection() as conn, opstore.connection(conn) as store:
            report = dispatching.dispatch(
                conn,
                gateway,
                book.programs,
                now,
                policy=book.policy,
                run_id=context.run.run_id,
                batch_size=config.batch_size,
                log=context.log.info,
                events_dir=settings.events_dir(),
                landing_dir=settings.landing_dir(),
                links_path=tracked_links.registry_path(),
                store=store,
                workers=workers,
                lease_s=config.lease_seconds,
            )
            # Attribution reads the warehouse's copy of the ledger: brought up to date.
            synced = opstore.sync_warehouse(store, conn)
            states = dict(
                conn.execute("SELECT state, count(*) FROM sms.ledger GROUP BY 1").fetchall()
            )
            links = conn.execute("SELECT count(*) FROM sms.links").fetchone()[0]
        context.log.info(f"dispatch at {now:%Y-%m-%d %H:%M} UTC: {report}")
        yield MaterializeResult(asset_key=DISPATCH_KEY, metadata=dispatch_metadata(report, gateway))
        yield MaterializeResult(
            asset_key=LEDGER_KEY,
            metadata={
                "rows": sum(states.values()),
                "states": MetadataValue.json(states),
                **opstore.sync_metadata(synced),
            },
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
        "worker_restarts": report.worker_restarts,
        "expired_at_provider": report.expired_at_provider,
        "gateway": gateway.kind,
    }
