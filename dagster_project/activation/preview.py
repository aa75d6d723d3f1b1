"""Preview a campaign's plan without sending or writing anything.

    python -m dagster_project.activation.preview CAMPAIGN [--day YYYY-MM-DD] [--now ISO]
    make preview CAMPAIGN=winback-lapsed

Runs the same planner as the plan asset on a read-only connection (the
analysts' published copy by default, so a running pipeline is never blocked)
and prints the funnel, the counts, segments and cost, and a few rendered
messages with phones masked.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import duckdb

from dagster_project import settings
from dagster_project.activation import eligibility, planner
from dagster_project.activation.campaigns import CampaignError
from dagster_project.phones import mask_phone


def _read_only(path: Path) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(path), read_only=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m dagster_project.activation.preview",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("campaign", help="campaign id (the file name in campaigns/ without .yml)")
    p.add_argument(
        "--day", type=dt.date.fromisoformat, default=None, help="plan day (default today, UTC)"
    )
    p.add_argument("--now", default=None, help="the moment to plan at, ISO 8601 (default now)")
    p.add_argument(
        "--warehouse",
        type=Path,
        default=None,
        help="database to read (default: the analysts' published copy)",
    )
    p.add_argument("--samples", type=int, default=5)
    a = p.parse_args(argv)

    from dagster_project.activation.assets import _now, campaigns, policy, prices

    try:
        by_id = {c.id: c for c in campaigns()}
    except CampaignError as exc:
        print(exc, file=sys.stderr)
        return 2
    campaign = by_id.get(a.campaign)
    if campaign is None:
        print(f"no campaign {a.campaign!r}; known: {', '.join(sorted(by_id))}", file=sys.stderr)
        return 2
    path = a.warehouse or settings.published_path()
    if not path.exists():
        print(f"{path} does not exist: run `make demo` (or the pipeline) first", file=sys.stderr)
        return 2
    now = _now(a.now, a.day)
    day = a.day or now.date()
    with _read_only(path) as conn:
        plan = planner.build_plan(
            conn, campaign, day, now, policy(), planner.default_renderer_factory, prices()
        )
    print(f"Campaign {campaign.id} ({campaign.name}), plan for {day}, at {now:%Y-%m-%d %H:%M} UTC")
    print(f"read from {path}; nothing is written or sent\n")
    print(f"{'step':<16} {'reached':>9} {'stopped':>9}")
    for step, reached, stopped in eligibility.funnel(plan.decisions):
        print(f"{step:<16} {reached:>9,} {stopped:>9,}")
    counts = plan.counts()
    sendable = plan.rows[plan.rows["state"].isin(["planned", "deferred"])]
    print(
        f"\nplanned now {counts.get('planned', 0):,}, deferred to their window "
        f"{counts.get('deferred', 0):,}, held out {counts.get('held_out', 0):,}, "
        f"skipped {counts.get('skipped', 0):,}"
    )
    print(
        f"segments {int(sendable['segments'].fillna(0).sum()):,}, "
        f"estimated cost {sendable['cost_usd'].fillna(0).sum():,.2f} USD"
    )
    reasons = plan.rows[plan.rows["state"] == "skipped"]["reason"].value_counts()
    if len(reasons):
        print("\nskipped because")
        for reason, n in reasons.items():
            print(f"  {n:>7,}  {reason}")
    print("\nsample messages")
    for r in sendable.head(a.samples).itertuples():
        body = r.body.replace("\n", " / ")
        print(
            f"  {mask_phone(r.phone_e164)} [{r.language}, variant {r.variant}, "
            f"{int(r.segments)} segment(s), {r.encoding}] {body}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
