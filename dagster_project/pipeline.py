"""Command line for running the pipeline outside the UI (``make demo`` uses it).

    python -m dagster_project.pipeline all [--start DAY] [--end DAY]
    python -m dagster_project.pipeline ingest [--start DAY] [--end DAY]
    python -m dagster_project.pipeline transform
    python -m dagster_project.pipeline publish
    python -m dagster_project.pipeline summary

``ingest`` materializes the reference snapshots, then every delivery day found
in the landing folder as one single-run backfill; ``transform`` runs
``dbt build``; ``publish`` refreshes the analysts' read-only copy;
``activate`` plans today's campaigns and sends what is due through the
configured gateway (the sandbox by default); ``all`` does the four in order.
Runs go to the Dagster instance in ``$DAGSTER_HOME``, so they show in
``make dev``. ``summary`` prints rows loaded and rejected per
source and customers per lifecycle stage and segment, reading the published
copy (never the live warehouse).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta

import duckdb
from dagster import AssetSelection, DagsterInstance, materialize

from dagster_project import settings
from dagster_project.activation import plan_assets, plan_checks, sms_dispatch
from dagster_project.activation.gateway.resource import gateway_from_env
from dagster_project.ingest import loader
from dagster_project.ingest.assets import (
    crm_consent_catch_up,
    daily_assets,
    daily_partitions,
    reference_assets,
    sms_events,
)
from dagster_project.ingest.jobs import RANGE_END_TAG, RANGE_START_TAG
from dagster_project.ingest.specs import DAILY_SPECS
from dagster_project.publish import analytics_snapshot
from dagster_project.quality import mart_checks, raw_checks
from dagster_project.reporting import campaign_performance_report
from dagster_project.transform import dbt_models, dbt_resource
from dagster_project.warehouse import WarehouseResource, connection

# Step events at DEBUG drown the story in a terminal; the UI keeps everything.
_QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}
_ALL_ASSETS = [
    *reference_assets,
    *daily_assets,
    sms_events,
    crm_consent_catch_up,
    dbt_models,
    analytics_snapshot,
    campaign_performance_report,
    *plan_assets,
    sms_dispatch,
    *raw_checks,
    *mart_checks,
    *plan_checks,
]
# Every data-quality check evaluated by this process's runs, for the closing table.
_EVALUATIONS: list = []


def _resources() -> dict:
    return {"warehouse": WarehouseResource(), "dbt": dbt_resource(), "gateway": gateway_from_env()}


def _run(selection, instance: DagsterInstance, what: str, run_config=None, **kwargs):
    result = materialize(
        _ALL_ASSETS,
        selection=selection,
        instance=instance,
        resources=_resources(),
        run_config={**_QUIET, **(run_config or {})},
        raise_on_error=False,
        **kwargs,
    )
    evaluations = result.get_asset_check_evaluations()
    _EVALUATIONS.extend(e for e in evaluations if e.check_name in _GX_CHECKS)
    if result.success:
        return result
    for e in evaluations:
        if not e.passed:
            reason = e.metadata.get("reason")
            print(
                f"  check failed: {e.asset_key.to_user_string()}:{e.check_name}"
                f" [{e.severity.value}] {getattr(reason, 'value', reason) or e.description or ''}",
                file=sys.stderr,
            )
    sys.exit(f"{what} failed; the run and its logs are in the Dagster UI (make dev)")


_GX_CHECKS = {
    spec.name for c in [*raw_checks, *mart_checks, *plan_checks] for spec in c.check_specs
}


def print_checks() -> None:
    """One line per data-quality check evaluated in this process's runs."""
    if not _EVALUATIONS:
        return
    print("\nData-quality gates (Great Expectations, expectations/*.json)")
    for e in sorted(_EVALUATIONS, key=lambda e: (e.asset_key.to_user_string(), e.check_name)):
        verdict = "pass" if e.passed else f"FAIL ({e.severity.value})"
        rows = e.metadata.get("rows")
        rows = getattr(rows, "value", rows)
        print(
            f"  {e.asset_key.to_user_string():<36} {e.check_name:<22} {verdict:<13}"
            f" {rows if rows is not None else '':>9} rows"
        )
    docs = settings.data_dir() / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site"
    print(f"  Data Docs: {docs / 'index.html'}")


def landing_range() -> tuple[date, date] | None:
    days = [d for spec in DAILY_SPECS for d in loader.day_folders(settings.landing_dir(), spec)]
    return (min(days), max(days)) if days else None


def ingest(instance: DagsterInstance, start: date | None, end: date | None) -> None:
    _run(AssetSelection.assets(*reference_assets), instance, "loading the reference snapshots")
    found = landing_range()
    if found is None:
        sys.exit(f"no delivery-day folders under {settings.landing_dir()}: nothing to load")
    start, end = start or found[0], end or found[1]
    first = date.fromisoformat(daily_partitions.get_first_partition_key())
    if start < first:
        sys.exit(
            f"landing data starts {start}, before the first partition {first}: "
            f"set SMS_PARTITION_START={start} (or earlier)"
        )
    print(f"loading delivery days {start}..{end} in one run")
    _run(
        AssetSelection.assets(*daily_assets),
        instance,
        "ingestion",
        tags={RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: end.isoformat()},
    )


def transform(instance: DagsterInstance, as_of: date | None = None) -> None:
    print(f"building the dbt models (dbt build{f', as of {as_of}' if as_of else ''})")
    config = {"ops": {dbt_models.op.name: {"config": {"as_of": str(as_of)}}}} if as_of else {}
    _run(AssetSelection.assets(dbt_models), instance, "dbt build", run_config=config)


def publish(instance: DagsterInstance) -> None:
    _run(AssetSelection.assets(analytics_snapshot), instance, "publishing the analysts' copy")
    print(f"analysts' copy: {settings.published_path()}")


def report(instance: DagsterInstance) -> None:
    result = _run(
        AssetSelection.assets(campaign_performance_report), instance, "the performance report"
    )
    md = result.get_asset_materialization_events()[0].materialization.metadata
    print(f"campaign performance report: {_value(md, 'report_url')}")


def _value(md, key):
    return getattr(md.get(key), "value", md.get(key))


def plan(instance: DagsterInstance, day: date, now: datetime | None = None) -> None:
    """Plan every campaign for ``day``, in priority order (at ``now``, default: the real clock)."""
    config = {"ops": {a.op.name: {"config": {"now": now.isoformat()}} for a in plan_assets}}
    result = _run(
        AssetSelection.assets(*plan_assets),
        instance,
        "planning",
        partition_key=day.isoformat(),
        run_config=config if now else {},
    )
    for event in result.get_asset_materialization_events():
        md = event.materialization.metadata
        print(
            f"  {event.asset_key.path[-1]:<22} candidates {_value(md, 'candidates'):>6,}"
            f"  planned {_value(md, 'planned'):>5,}  deferred {_value(md, 'deferred'):>5,}"
            f"  held out {_value(md, 'held_out'):>5,}  skipped {_value(md, 'skipped'):>6,}"
            f"  cost {_value(md, 'cost_usd'):>8,.2f} USD"
        )


def dispatch(instance: DagsterInstance, now: datetime | None = None) -> dict:
    """Load new outcome events and landed consent files, then send what is due (at ``now``:
    the sandbox only)."""
    clock = {"config": {"now": now.isoformat()}}
    config = (
        {"ops": {sms_dispatch.op.name: clock, crm_consent_catch_up.op.name: clock}} if now else {}
    )
    result = _run(
        AssetSelection.assets(sms_events, crm_consent_catch_up, sms_dispatch),
        instance,
        "sending",
        run_config=config,
    )
    [event] = [
        e for e in result.get_asset_materialization_events() if e.asset_key == sms_dispatch.key
    ]
    v = {k: getattr(x, "value", x) for k, x in event.materialization.metadata.items()}
    when = f" at {now:%Y-%m-%d %H:%M} UTC" if now else ""
    print(
        f"  dispatch{when} through the {v['gateway']} gateway: {v['accepted']:,} accepted, "
        f"{v['failed']:,} failed, {v['unknown']:,} unknown, {v['deferred']:,} deferred, "
        f"{v['skipped_at_send_time']:,} skipped at send time"
    )
    return v


def activate(instance: DagsterInstance) -> None:
    """Plan every campaign for today (UTC), in priority order, then send what is due."""
    day = date.today()
    print(f"planning the campaigns for {day} and sending what is due")
    plan(instance, day)
    dispatch(instance)
    print("  deferred messages go out when their recipients' windows open (hourly dispatch)")


def load_outcomes(instance: DagsterInstance) -> None:
    result = _run(AssetSelection.assets(sms_events), instance, "loading outcome events")
    md = result.get_asset_materialization_events()[0].materialization.metadata
    print(
        f"outcome events: {_value(md, 'rows_loaded'):,} loaded, "
        f"{_value(md, 'duplicates_dropped'):,} duplicates dropped, "
        f"{_value(md, 'rows_rejected'):,} rejected ({_value(md, 'rows_total'):,} in raw.sms_events)"
    )


# When the demo's dispatch runs (UTC) on the send day and the morning after: windows open
# at different hours in Berlin, Istanbul, London and New York.
DEMO_DISPATCH_HOURS = ((0, 8), (0, 10), (0, 13), (0, 16), (0, 19), (0, 22), (1, 8), (1, 10))


def demo_loop(instance: DagsterInstance, send_day: date | None, behaviour) -> dict:
    """send -> outcomes -> attribution on the demo data, on a replayed clock.

    History up to the day before ``send_day`` is loaded and modelled as of
    ``send_day``; the campaigns are planned that morning and sent by dispatch
    runs through the day (sandbox gateway); recipients' receipts, replies, STOPs
    and clicks go to a running webhook receiver while the sends go on (a STOP
    before a dispatch run is honoured by it); their purchases land as POS files;
    then the rest of the days are loaded and the attribution marts built.
    """
    from dagster_project.demo import loop, recipients
    from dagster_project.webhook_urls import webhook_secret

    found = landing_range()
    if found is None:
        sys.exit(f"no delivery-day folders under {settings.landing_dir()}: run the generator")
    first, end = found
    send_day = send_day or end - timedelta(days=6)
    if not first < send_day <= end:
        sys.exit(f"the send day {send_day} must lie within the landed days {first}..{end}")
    print(
        f"history {first}..{send_day - timedelta(days=1)}; campaigns sent on {send_day}; "
        f"what recipients did until {end}"
    )
    ingest(instance, None, send_day - timedelta(days=1))
    transform(instance, as_of=send_day)
    print(f"planning the campaigns for {send_day} at 07:00 UTC")
    plan(instance, send_day, datetime.combine(send_day, time(7), tzinfo=UTC))

    outbox_dir = settings.data_dir() / "sandbox_gateway"
    secret = webhook_secret()
    pending: list = []
    purchases: list = []
    counts: defaultdict[str, Counter] = defaultdict(Counter)  # what recipients did, per campaign
    delivered: Counter = Counter()  # callbacks the receiver took, per kind
    with loop.running_receiver() as base:
        print(f"webhook receiver on {base}; recipients answer between dispatch runs")
        for day_offset, hour in DEMO_DISPATCH_HOURS:
            at = datetime.combine(send_day + timedelta(days=day_offset), time(hour), tzinfo=UTC)
            due = [c for c in pending if c.at <= at]
            pending = [c for c in pending if c.at > at]
            delivered.update(loop.deliver(base, secret, due))
            before = loop.outbox_lines(outbox_dir)
            dispatch(instance, at)
            clock = loop.DispatchClock(before, loop.outbox_lines(outbox_dir), at)
            outcome = recipients.simulate(loop.sent_messages(outbox_dir, [clock]), behaviour)
            pending = sorted([*pending, *outcome.callbacks], key=lambda c: c.at)
            purchases += outcome.purchases
            for campaign, per in outcome.counts.items():
                counts[campaign].update(per)
        delivered.update(loop.deliver(base, secret, pending))
    files = loop.write_purchases(settings.landing_dir(), purchases, behaviour.seed)
    print(
        "recipients: "
        + ", ".join(f"{n:,} {kind} callbacks" for kind, n in sorted(delivered.items()))
        + f"; {len(purchases):,} purchases caused by the messages in {len(files)} POS files"
    )
    truth = {
        "send_day": send_day.isoformat(),
        "behaviour": {
            **{k: v for k, v in vars(behaviour).items() if k != "uplift"},
            "uplift": dict(behaviour.uplift),
        },
        "per_campaign": {campaign: dict(per) for campaign, per in counts.items()},
    }
    path = settings.demo_truth_dir() / "outcomes.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(truth, indent=2, sort_keys=True))

    ingest(instance, send_day, end)
    load_outcomes(instance)
    transform(instance)
    return truth


def print_performance(path=None) -> None:
    """The campaign performance table (marts.mart_campaign_performance), lift with its interval."""
    path = path or settings.published_path()
    with connection(path, read_only=True) as conn:
        if not _table_exists(conn, "marts", "mart_campaign_performance"):
            print("no campaign performance yet (marts.mart_campaign_performance is missing)")
            return
        rows = conn.execute(
            "SELECT * FROM marts.mart_campaign_performance ORDER BY campaign_id, variant"
        ).df()
    print("\nCampaign performance (treated vs holdout; lift = difference in conversion rate)")
    print(
        f"  {'campaign':<20} {'var':<3} {'sent':>5} {'deliv':>6} {'click':>6} {'stop':>5}"
        f" {'conv':>5} {'revenue':>9} {'cost':>7} {'ROAS':>6} {'treated':>8} {'holdout':>8}"
        f"  {'lift, 95% CI (pts)':<26} {'incr. rev':>9}"
    )

    def missing(x) -> bool:
        return x is None or x != x  # NULL comes back as None or NaN

    def pct(x):
        return "-" if missing(x) else f"{100 * x:5.1f}%"

    def pts(x):
        return "-" if missing(x) else f"{100 * x:+.1f}"

    def money(x, digits=0):
        return "-" if missing(x) else f"{x:,.{digits}f}"

    for r in rows.itertuples():
        lift = (
            "no holdout"
            if missing(r.lift_abs)
            else f"{pts(r.lift_abs)} [{pts(r.lift_abs_ci_low)}, {pts(r.lift_abs_ci_high)}]"
        )
        roas = "-" if missing(r.roas) else f"{r.roas:,.0f}x"
        print(
            f"  {r.campaign_id:<20} {r.variant:<3} {int(r.sent):>5,} {pct(r.delivery_rate):>6}"
            f" {pct(r.click_rate):>6} {pct(r.opt_out_rate):>5} {int(r.conversions):>5,}"
            f" {money(r.revenue):>9} {money(r.cost_usd, 2):>7} {roas:>6}"
            f" {pct(r.treated_conversion_rate):>8} {pct(r.holdout_conversion_rate):>8}"
            f"  {lift:<26} {money(r.incremental_revenue):>9}"
        )
    print(
        "  (revenue in the reporting currency; conversions are attributed last-touch within the "
        "windows, lift compares any purchase within 5 days with the campaign's holdout)"
    )


def _table_exists(conn: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(
        conn.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


def summary() -> None:
    path = settings.published_path()
    if not path.exists():
        path = settings.warehouse_path()
    with connection(path, read_only=True) as conn:
        s = loader.load_summary(conn)
        width = max((len(t) for t in s["rows"]), default=10)
        print("\nRows loaded (raw.*)")
        for table, n in s["rows"].items():
            print(f"  {table:<{width}}  {n:>12,}")
        total = sum(r[3] for r in s["rejects"])
        print(f"\nRows rejected: {total:,} (details in ingest.rejects: file, line, column, reason)")
        for entity, kind, column, n in s["rejects"]:
            print(f"  {entity:<{width}}  {kind:<16} {column:<28} {n:>8,}")
        if _table_exists(conn, "marts", "customer_lifecycle"):
            print("\nCustomers per lifecycle stage")
            for stage, n in conn.execute(
                "SELECT lifecycle_stage, count(*) FROM marts.customer_lifecycle "
                "GROUP BY 1 ORDER BY 2 DESC"
            ).fetchall():
                print(f"  {stage:<20} {n:>10,}")
        if _table_exists(conn, "marts", "customer_segments"):
            print("\nCustomers per segment")
            for segment, n in conn.execute(
                "SELECT segment, count(DISTINCT customer_id) FROM marts.customer_segments "
                "GROUP BY 1 ORDER BY 2 DESC"
            ).fetchall():
                print(f"  {segment:<24} {n:>10,}")
    print(
        f"\nWarehouse: {settings.warehouse_path()}\n"
        f"Analysts' read-only copy: {settings.published_path()}\n"
        "Open the Dagster UI with `make dev` (http://127.0.0.1:3000)."
    )


def parse_uplift(text: str) -> dict:
    """'0.1' or 'winback-lapsed=0.2,vip-thank-you=0,0.1' -> Behaviour keyword arguments."""
    out: dict = {"uplift": {}}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.rpartition("=")
        try:
            number = float(value)
        except ValueError:
            raise SystemExit(f"--uplift: {value!r} is not a number (in {part!r})") from None
        if sep:
            out["uplift"][name] = number
        else:
            out["default_uplift"] = number
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m dagster_project.pipeline",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, text in [("all", "ingest, transform and publish"), ("ingest", "load landed files")]:
        p = sub.add_parser(name, help=text)
        p.add_argument("--start", type=date.fromisoformat, help="first delivery day")
        p.add_argument("--end", type=date.fromisoformat, help="last delivery day")
    d = sub.add_parser(
        "demo",
        help="the demo loop: send on a replayed day, recipients answer, attribution with lift",
    )
    d.add_argument("--send-day", type=date.fromisoformat, help="default: 6 days before the last")
    d.add_argument(
        "--uplift",
        default="0.15",
        help="extra purchase probability for delivered recipients: one number, or "
        "campaign=value pairs with an optional default, e.g. 'winback-lapsed=0.2,0.1'",
    )
    d.add_argument("--seed", type=int, default=42, help="seed of the recipients' behaviour")
    sub.add_parser("transform", help="dbt build")
    sub.add_parser("publish", help="refresh the analysts' read-only copy")
    sub.add_parser("activate", help="plan today's campaigns and send what is due (sandbox)")
    sub.add_parser("summary", help="rows loaded and rejected, customers per stage and segment")
    args = parser.parse_args(argv)
    if args.command == "summary":
        summary()
        return
    instance = DagsterInstance.get()
    if args.command == "demo":
        from dagster_project.demo.recipients import Behaviour

        behaviour = Behaviour(**parse_uplift(args.uplift), seed=args.seed)
        demo_loop(instance, args.send_day, behaviour)
        publish(instance)
        report(instance)
        print_performance()
        print_checks()
        return
    if args.command in ("all", "ingest"):
        ingest(instance, args.start, args.end)
    if args.command in ("all", "transform"):
        transform(instance)
    if args.command in ("all", "publish"):
        publish(instance)
    if args.command in ("all", "activate"):
        activate(instance)
    print_checks()


if __name__ == "__main__":
    main()
