"""The demo's command line, run from the repository root (``make demo`` uses both commands).

    python -m demo generate [--customers N] [--days D] [--seed S] [--end DAY]
                            [--intraday-days N] ...
    python -m demo run [--uplift U] [--send-day DAY] [--seed S] [--verbose] [--debug]

``generate`` writes the demo's POS, CRM and shop exports into the landing folder
(wiping the subfolders it owns first) and the ground truth beside it. ``run`` is
the demo loop: history loaded and modelled, the campaigns sent on a replayed day
through the sandbox gateway, the simulated recipients answering through a
running webhook receiver and buying in the stores, the rest of the days loaded,
attribution with lift, the analysts' copy and the report. It drives the product
only through its command-line functions (``dagster_project.pipeline``), holding
the warehouse's writer lock as every writing command does; the terminal gets a
few lines and Dagster's and dbt's logs go to ``$SMS_DATA_DIR/logs/``.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from dagster_project import settings
from dagster_project.pipeline import cli
from demo.generator import generate
from demo.params import DEFAULT_INTRADAY_DAYS

PROG = "python -m demo"


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a YYYY-MM-DD date: {text!r}") from exc


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


def _generate_options(p: argparse.ArgumentParser) -> None:
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
    p.add_argument(
        "--intraday-days",
        type=int,
        default=DEFAULT_INTRADAY_DAYS,
        help="the last this many delivery days get their shop orders and checkouts in one "
        "file per hourly cut (orders-<day>-1100.jsonl: updated from 10:00 to before 11:00 "
        f"UTC), as a shop exporting through the day delivers them; 0: one file per day "
        f"(default {DEFAULT_INTRADAY_DAYS})",
    )


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--send-day", type=_date, help="default: 6 days before the last")
    p.add_argument(
        "--uplift",
        default="0.15",
        help="extra purchase probability for delivered recipients: one number, or "
        "campaign=value pairs with an optional default, e.g. 'winback-lapsed=0.2,0.1'",
    )
    p.add_argument("--seed", type=int, default=42, help="seed of the recipients' behaviour")
    p.add_argument(
        "--postgres",
        action="store_true",
        help="keep the operational state (send ledger, journey state, links) in PostgreSQL: "
        "the server SMS_POSTGRES_DSN names, or without it a throwaway one started from the "
        "machine's PostgreSQL binaries for this run (`make postgres` installs them)",
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)
    _generate_options(
        sub.add_parser(
            "generate",
            help="demo POS, CRM and shop exports into the landing folder",
            description="Generate demo POS, CRM and shop exports into the landing folder. "
            "Wipes the landing subfolders it owns (pos/, crm/, shop/) first.",
        )
    )
    _run_options(
        sub.add_parser(
            "run",
            parents=[cli.common_options()],
            help="the demo loop: send on a replayed day through the sandbox, recipients "
            "answer, attribution with lift",
        )
    )
    return p


def generate_main(args: argparse.Namespace) -> int:
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
            intraday_days=args.intraday_days,
        )
    except ValueError as exc:
        print(f"{PROG} generate: {exc}", file=sys.stderr)
        return 2
    print(summary.format())
    return 0


def _run(args: argparse.Namespace, uplift: dict) -> None:
    """The loop, then what every demo ends with: the analysts' copy, the report, a summary."""
    # Dagster and the code location load only now, inside the lock and the log.
    from dagster_project.pipeline import output, runs
    from dagster_project.pipeline.console import console
    from demo.recipients import Behaviour
    from demo.replay import demo_loop

    with ExitStack() as stack:
        if args.postgres:
            os.environ["SMS_OPSTORE"] = "postgres"
            if not settings.postgres_dsn():
                from demo.postgres import LocalPostgres

                server = stack.enter_context(LocalPostgres())
                os.environ["SMS_POSTGRES_DSN"] = server.dsn
                console.say(f"operational store: a throwaway PostgreSQL on {server.dsn}")
        dagster = runs.instance()
        behaviour = Behaviour(**uplift, seed=args.seed)
        demo_loop(dagster, args.send_day, behaviour)
        runs.publish(dagster)
        url = runs.report(dagster)
        output.print_checks(runs.EVALUATIONS)
        output.print_performance()
        output.closing_summary(url, console.log_path)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser().parse_args(argv)
    if args.command == "generate":
        return generate_main(args)
    uplift = parse_uplift(args.uplift)  # a typo stops here, before the lock is taken
    return cli.run_locked(
        "demo",
        " ".join([PROG, *argv]),
        lambda: _run(args, uplift),
        verbose=args.verbose,
        debug=args.debug,
        lock_timeout=args.lock_timeout,
    )


if __name__ == "__main__":
    sys.exit(main())
