"""What the command line prints from the warehouse: summaries, the performance table, gates.

Everything here reads the analysts' published copy (or, before the first publish,
the warehouse read-only), never blocking a running pipeline.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import duckdb

from dagster_project import settings
from dagster_project.ingest import loader
from dagster_project.pipeline.console import detail, say, warn
from dagster_project.transform.freshness import read_freshness
from dagster_project.warehouse import connection


def _table_exists(conn: duckdb.DuckDBPyConnection, schema: str, name: str) -> bool:
    return bool(
        conn.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, name],
        ).fetchone()[0]
    )


STAGES_SQL = (
    "SELECT lifecycle_stage, count(*) FROM marts.dim_customer_lifecycle GROUP BY 1 ORDER BY 2 DESC"
)
SEGMENTS_SQL = (
    "SELECT segment, count(DISTINCT customer_id) FROM marts.dim_customer_segments "
    "GROUP BY 1 ORDER BY 2 DESC"
)


def readable_copy() -> Path:
    path = settings.published_path()
    return path if path.exists() else settings.warehouse_path()


def print_performance(path: Path | None = None) -> None:
    """The campaign performance table (marts.mart_campaign_performance), lift with its interval."""
    with connection(path or readable_copy(), read_only=True) as conn:
        if not _table_exists(conn, "marts", "mart_campaign_performance"):
            say("no campaign performance yet (marts.mart_campaign_performance is missing)")
            return
        rows = conn.execute(
            "SELECT * FROM marts.mart_campaign_performance ORDER BY campaign_id, variant"
        ).df()
    say("\nCampaign performance (treated vs holdout; lift = difference in conversion rate)")
    say(
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
        say(
            f"  {r.campaign_id:<20} {r.variant:<3} {int(r.sent):>5,} {pct(r.delivery_rate):>6}"
            f" {pct(r.click_rate):>6} {pct(r.opt_out_rate):>5} {int(r.conversions):>5,}"
            f" {money(r.revenue):>9} {money(r.cost_usd, 2):>7} {roas:>6}"
            f" {pct(r.treated_conversion_rate):>8} {pct(r.holdout_conversion_rate):>8}"
            f"  {lift:<26} {money(r.incremental_revenue):>9}"
        )
    say(
        "  (sent: accepted by the gateway; revenue in the reporting currency; conversions are "
        "attributed last-touch within the windows, lift compares any purchase within 5 days "
        "with the campaign's holdout)"
    )


def _latest_verdicts(evaluations: list) -> dict:
    """(asset, check) -> (the latest evaluation, how many times it ran)."""
    out: dict = {}
    runs: defaultdict = defaultdict(int)
    for e in evaluations:
        key = (e.asset_key.to_user_string(), e.check_name)
        runs[key] += 1
        out[key] = e
    return {key: (e, runs[key]) for key, e in out.items()}


def print_checks(evaluations: list) -> None:
    """One line for the data-quality gates on the terminal; one per check in the log."""
    if not evaluations:
        return
    verdicts = _latest_verdicts(evaluations)
    detail("\nData-quality gates (Great Expectations, expectations/*.json), latest verdicts")
    for (asset, check), (e, times) in sorted(verdicts.items()):
        verdict = "pass" if e.passed else f"FAIL ({e.severity.value})"
        rows = e.metadata.get("rows")
        rows = getattr(rows, "value", rows)
        detail(
            f"  {asset:<36} {check:<22} {verdict:<13} {rows if rows is not None else '':>9} rows"
            f"  ({times} run{'s' if times > 1 else ''})"
        )
    failed = [(k, e) for k, (e, _) in sorted(verdicts.items()) if not e.passed]
    docs = settings.data_dir() / "gx" / "gx" / "uncommitted" / "data_docs" / "local_site"
    outcome = "all passed" if not failed else f"{len(failed)} failed"
    say(
        f"data-quality gates: {len(verdicts)} checks ({len(evaluations)} evaluations), {outcome}; "
        f"Data Docs: {docs / 'index.html'}"
    )
    for (asset, check), e in failed:
        reason = e.metadata.get("reason")
        warn(f"  FAILED {asset}:{check} [{e.severity.value}] {getattr(reason, 'value', reason)}")


def freshness_lines(conn: duckdb.DuckDBPyConnection) -> None:
    """Which day the marts describe, the newest purchase, and the warning when far apart."""
    freshness = read_freshness(conn)
    if freshness is None:
        return
    newest, at = freshness.newest_purchase_on, freshness.newest_purchase_at
    say(
        f"  marts as of {freshness.as_of}; newest purchase "
        + (f"{newest} ({at:%Y-%m-%d %H:%M} UTC)" if newest else "none on or before that day")
    )
    if freshness.warning():
        warn(f"  WARNING: {freshness.warning()}")


def closing_summary(report_url: str | None, log_path: Path | None) -> None:
    """The demo's last lines: the state of things in a few lines, and where to look."""
    path = readable_copy()
    with connection(path, read_only=True) as conn:
        s = loader.load_summary(conn)
        say("\nSummary")
        freshness_lines(conn)
        raw = {t: n for t, n in s["rows"].items() if t != "sms_events"}
        say(
            f"  {sum(raw.values()):,} rows loaded from the landing files, "
            f"{sum(r[3] for r in s['rejects']):,} rejected (file, line and reason in "
            "ingest.rejects)"
        )
        if _table_exists(conn, "marts", "dim_customer_lifecycle"):
            stages = conn.execute(STAGES_SQL).fetchall()
            say(
                f"  {sum(n for _, n in stages):,} customers: "
                + ", ".join(f"{stage} {n:,}" for stage, n in stages)
            )
        if _table_exists(conn, "sms", "ledger"):
            states = dict(
                conn.execute("SELECT state, count(*) FROM sms.ledger GROUP BY 1").fetchall()
            )
            skipped, held = states.pop("skipped", 0), states.pop("held_out", 0)
            planned = sum(states.values())
            say(
                f"  messages: {planned:,} planned, {states.get('accepted', 0):,} sent, "
                f"{states.get('failed', 0):,} failed, "
                f"{states.get('planned', 0) + states.get('deferred', 0):,} not sent yet; "
                f"{held:,} held out, {skipped:,} candidates skipped"
            )
    if report_url:
        say(f"Report: {report_url}")
    say(f"Analysts' copy: {settings.published_path()}; `make dev` opens the Dagster UI")
    say("Tables per source, reject reason and segment: python -m dagster_project.pipeline summary")
    if log_path:
        say(f"Full log (Dagster, dbt, receiver): {log_path}")


def summary() -> None:
    """Rows loaded and rejected per source, customers per stage and segment, the marts' day."""
    with connection(readable_copy(), read_only=True) as conn:
        s = loader.load_summary(conn)
        if _table_exists(conn, "marts", "dim_customer_lifecycle"):
            say("\nMarts")
            freshness_lines(conn)
        width = max((len(t) for t in s["rows"]), default=10)
        say("\nRows loaded (raw.*)")
        for table, n in s["rows"].items():
            say(f"  {table:<{width}}  {n:>12,}")
        total = sum(r[3] for r in s["rejects"])
        say(f"\nRows rejected: {total:,} (details in ingest.rejects: file, line, column, reason)")
        for entity, kind, column, n in s["rejects"]:
            say(f"  {entity:<{width}}  {kind:<16} {column:<28} {n:>8,}")
        for table, title, sql in (
            ("dim_customer_lifecycle", "Customers per lifecycle stage", STAGES_SQL),
            ("dim_customer_segments", "Customers per segment", SEGMENTS_SQL),
        ):
            if _table_exists(conn, "marts", table):
                say(f"\n{title}")
                for name, n in conn.execute(sql).fetchall():
                    say(f"  {name:<24} {n:>10,}")
    say(
        f"\nWarehouse: {settings.warehouse_path()}\n"
        f"Analysts' read-only copy: {settings.published_path()}\n"
        "Open the Dagster UI with `make dev` (http://127.0.0.1:3000)."
    )
