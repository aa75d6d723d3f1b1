"""Preview a campaign's plan without sending or writing anything.

    make preview CAMPAIGN=winback-lapsed
    python -m dagster_project.pipeline preview CAMPAIGN [--day YYYY-MM-DD] [--now ISO]

Runs the same planner as the plan asset on a read-only connection (the
analysts' published copy by default, so a running pipeline is never blocked)
and prints the funnel, the counts, segments and cost, and a few rendered
messages with phones masked. A broken campaign file (or any error) is one line
naming it and exit status 2; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from dagster_project import settings
from dagster_project.pipeline.console import CommandError, guarded


def _unknown(campaign_id: str, known: list[str]) -> CommandError:
    folder = settings.campaigns_dir()
    others = sorted(p.name for p in folder.glob(f"{campaign_id}.*"))
    if others:
        return CommandError(
            f"{folder / others[0]} is not read: campaign files end in .yml or .yaml"
        )
    return CommandError(
        f"no campaign {campaign_id!r} in {folder} (no {campaign_id}.yml or {campaign_id}.yaml); "
        f"known: {', '.join(known)}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m dagster_project.pipeline preview",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "campaign", help="campaign id (the file name in campaigns/ without .yml or .yaml)"
    )
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
    p.add_argument("--debug", action="store_true", help="the traceback of an error, not one line")
    a = p.parse_args(argv)
    return guarded(lambda: preview(a), debug=a.debug, status=2)


def preview(a: argparse.Namespace) -> None:
    # Imported here: loading the activation package reads every campaign file, and a
    # broken one must end as one line, not a traceback.
    import duckdb

    from dagster_project.activation import eligibility, planner
    from dagster_project.activation.assets import configured_moment
    from dagster_project.activation.resources import read_book
    from dagster_project.lib.phones import mask_phone

    book = read_book(settings.campaigns_dir())
    if a.campaign not in book.by_id and a.campaign not in {b.id for b in book.broken}:
        raise _unknown(a.campaign, sorted(book.by_id))
    campaign = book.get(a.campaign)  # a broken file: its error, naming file and field
    path = a.warehouse or settings.published_path()
    if not path.exists():
        raise CommandError(f"{path} does not exist: run `make demo` (or the pipeline) first")
    now = configured_moment(a.now, a.day)
    day = a.day or now.date()
    with duckdb.connect(str(path), read_only=True) as conn:
        plan = planner.build_plan(
            conn, campaign, day, now, book.policy, planner.default_renderer_factory, book.prices
        )
    print(f"Campaign {campaign.id} ({campaign.name}), plan for {day}, at {now:%Y-%m-%d %H:%M} UTC")
    print(f"read from {path}; nothing is written or sent\n")
    print(f"{'step':<16} {'reached':>9} {'stopped':>9}")
    for step, reached, stopped in eligibility.funnel(plan.decisions):
        print(f"{step:<16} {reached:>9,} {stopped:>9,}")
    counts = plan.counts()
    sendable = plan.rows[plan.rows["state"].isin(["planned", "deferred"])]
    due, later = counts.get("planned", 0), counts.get("deferred", 0)
    print(
        f"\nplanned {due + later:,} ({due:,} due now, {later:,} when their window opens), "
        f"held out {counts.get('held_out', 0):,}, skipped {counts.get('skipped', 0):,}"
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


if __name__ == "__main__":
    sys.exit(main())
