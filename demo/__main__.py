"""Command line for the demo generator (``python -m dagster_project.demo`` / ``sms-demo-data``)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from dagster_project import settings

from .generator import generate


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from exc


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sms-demo-data",
        description="Generate demo POS, CRM and shop exports into the landing folder. "
        "Wipes the landing subfolders it owns (pos/, crm/, shop/) first.",
    )
    p.add_argument("--customers", type=int, default=10_000, help="people (default 10000)")
    p.add_argument("--days", type=int, default=730, help="delivery days (default 730)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument(
        "--end",
        type=_date,
        default=None,
        help="last delivery day, YYYY-MM-DD (default: yesterday, UTC)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="landing folder (default: $SMS_LANDING_DIR or data/landing)",
    )
    p.add_argument(
        "--truth-dir",
        type=Path,
        default=None,
        help="ground-truth folder (default: data/demo_truth)",
    )
    p.add_argument(
        "--mess-rate",
        type=float,
        default=0.005,
        help="per-row probability of each kind of mess; 0 disables (default 0.005). Each "
        "row-level kind the loader quarantines adds up: from about 0.017 on, more than 5%% "
        "of a large day is quarantined and the raw_quarantine gate stops the run, as it "
        "would for a broken export",
    )
    p.add_argument(
        "--late-rate",
        type=float,
        default=0.02,
        help="share of POS store-day files delivered 1-3 days late (default 0.02)",
    )
    p.add_argument("--stores", type=int, default=None, help="number of stores (default 12)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    end = args.end or (datetime.now(UTC).date() - timedelta(days=1))
    try:
        summary = generate(
            out=args.out or settings.landing_dir(),
            truth_dir=args.truth_dir or settings.demo_truth_dir(),
            customers=args.customers,
            days=args.days,
            seed=args.seed,
            end=end,
            mess_rate=args.mess_rate,
            late_rate=args.late_rate,
            stores=args.stores,
        )
    except ValueError as exc:
        print(f"sms-demo-data: {exc}", file=sys.stderr)
        return 2
    print(summary.format())
    return 0


if __name__ == "__main__":
    sys.exit(main())
