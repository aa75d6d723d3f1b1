"""Command line for running the pipeline outside the UI.

    python -m dagster_project.pipeline all [--start DAY] [--end DAY] [--as-of DAY]
    python -m dagster_project.pipeline ingest [--start DAY] [--end DAY]
    python -m dagster_project.pipeline transform [--as-of DAY]
    python -m dagster_project.pipeline publish
    python -m dagster_project.pipeline activate [--now ISO]
    python -m dagster_project.pipeline summary
    python -m dagster_project.pipeline preview CAMPAIGN [--day DAY] [--now ISO]

``ingest`` materializes the reference snapshots, then every delivery day found
in the landing folder as one single-run backfill; ``transform`` runs ``dbt
build`` as of ``--as-of`` (default today) and warns when the newest purchase is
far older than that day; ``publish`` refreshes the analysts' read-only copy;
``all`` does these three in order and sends nothing. ``activate`` plans the
campaigns for today (UTC) and sends what is due through the gateway
``SMS_GATEWAY`` names (the sandbox by default): it is the one command that
sends. ``summary`` prints the marts' day, rows loaded and rejected per source
and customers per lifecycle stage and segment, from the published copy (never
the live warehouse); ``preview`` (``make preview``) shows one campaign's plan
from it, sending nothing. The demo lives in demo/ (make demo), outside the
product.

Runs go to the Dagster instance in ``$DAGSTER_HOME``, so they show in ``make
dev``. Each command holds the warehouse's writer lock while it runs: a second
writer (another command, a run the UI started) waits its turn and says whom it
waits for. The terminal gets a few lines; Dagster's and dbt's logs go to
``$SMS_DATA_DIR/logs/`` (``--verbose`` shows them instead). An error is one line
and exit status 1 (``--debug`` adds the traceback).

This module (argument parsing, the writer lock, the log file, one-line errors)
imports nothing heavy at the top: the writer lock is taken, and errors are
caught, before Dagster and the code location (which reads the campaign files)
are imported, so a broken campaign file is one line, not a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, date, datetime

from dagster_project import settings
from dagster_project.lib.warehouse_lock import warehouse_lock
from dagster_project.pipeline.console import console, guarded, log_file, say, warn

PROG = "python -m dagster_project.pipeline"


def moment(text: str) -> datetime:
    """An ISO 8601 moment; without an offset it is UTC."""
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def common_options() -> argparse.ArgumentParser:
    """--debug, --verbose and --lock-timeout, the options of every writing command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", help="print the traceback of an error, not one line"
    )
    common.add_argument(
        "--verbose",
        action="store_true",
        help="Dagster's and dbt's logs on the terminal instead of the log file",
    )
    common.add_argument(
        "--lock-timeout",
        type=float,
        default=None,
        metavar="SECONDS",
        help="give up waiting for another writer of the warehouse after this long "
        "(default: wait for it to finish, saying so)",
    )
    return common


def parser() -> argparse.ArgumentParser:
    common = common_options()
    as_of = argparse.ArgumentParser(add_help=False)
    as_of.add_argument(
        "--as-of",
        type=date.fromisoformat,
        metavar="DAY",
        help="the day the customer marts describe, YYYY-MM-DD (default: today); give the "
        "last day a loaded history covers",
    )
    days = argparse.ArgumentParser(add_help=False)
    days.add_argument("--start", type=date.fromisoformat, help="first delivery day")
    days.add_argument("--end", type=date.fromisoformat, help="last delivery day")

    p = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "all",
        parents=[common, days, as_of],
        help="ingest, transform and publish; plans and sends nothing (that is `activate`)",
    )
    sub.add_parser("ingest", parents=[common, days], help="load the landed files")
    sub.add_parser("transform", parents=[common, as_of], help="dbt build")
    sub.add_parser("publish", parents=[common], help="refresh the analysts' read-only copy")
    a = sub.add_parser(
        "activate",
        parents=[common],
        help="plan the campaigns for today (UTC) and SEND what is due through SMS_GATEWAY "
        "(the sandbox by default; real messages with kannel or twilio)",
    )
    a.add_argument(
        "--now",
        type=moment,
        metavar="ISO",
        help="plan and send as at this moment, e.g. 2026-11-22T07:00:00+00:00 (the UTC day "
        "of it is planned; a clock other than now sends only through the sandbox)",
    )
    j = sub.add_parser(
        "journeys",
        parents=[common],
        help="load new outcome events and consent files, rebuild the journey event stream, "
        "advance every journey and SEND what is due (the intra-day loop; see docs/journeys.md)",
    )
    j.add_argument(
        "--now",
        type=moment,
        metavar="ISO",
        help="advance and send as at this moment (a clock other than now: the sandbox only)",
    )
    pv = sub.add_parser(
        "preview",
        add_help=False,
        help="a campaign's funnel and sample messages, nothing written or sent (make preview; "
        "`preview --help` for its options)",
    )
    pv.add_argument("args", nargs=argparse.REMAINDER)
    sub.add_parser(
        "summary",
        parents=[common],
        help="the marts' day, rows loaded and rejected, customers per stage and segment "
        "(reads the analysts' copy)",
    )
    return p


def _execute(args: argparse.Namespace) -> None:
    """The command itself: Dagster and the code location are imported only now."""
    from dagster_project.pipeline import output, runs

    dagster = runs.instance()
    if args.command in ("all", "ingest"):
        runs.ingest(dagster, args.start, args.end)
    if args.command in ("all", "transform"):
        runs.transform(dagster, args.as_of)
    if args.command in ("all", "publish"):
        runs.publish(dagster)
    if args.command == "activate":
        runs.activate(dagster, args.now)
    if args.command == "journeys":
        runs.advance_journeys(dagster, args.now, intraday=True)
        runs.dispatch(dagster, args.now)
    output.print_checks(runs.EVALUATIONS)
    if console.log_path:
        say(f"log: {console.log_path}")


class _Echo(logging.Handler):
    """Warehouse waits inside a run reach the terminal, not only the run's log."""

    def emit(self, record: logging.LogRecord) -> None:
        warn(record.getMessage())


def _preview(argv: list[str]) -> None:
    # The activation package reads every campaign file when imported: imported here, a
    # broken file is one line (`python -m dagster_project.activation.preview` cannot catch
    # it, its package is imported before its code runs).
    from dagster_project.activation import preview

    code = preview.main(argv)
    if code:
        raise SystemExit(code)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["preview"]:  # its own options, parsed by the preview itself
        return guarded(lambda: _preview(argv[1:]), debug="--debug" in argv, status=2)
    args = parser().parse_args(argv)
    if args.command == "summary":  # reads the analysts' copy: no lock, no log

        def show() -> None:
            from dagster_project.pipeline import output

            output.summary()

        return guarded(show, debug=args.debug)
    return run_locked(
        args.command,
        " ".join([PROG, *argv]),
        lambda: _execute(args),
        verbose=args.verbose,
        debug=args.debug,
        lock_timeout=args.lock_timeout,
    )


def run_locked(
    command: str,
    command_line: str,
    body: Callable[[], object],
    *,
    verbose: bool = False,
    debug: bool = False,
    lock_timeout: float | None = None,
) -> int:
    """``body`` as a writing command: the writer lock held, its details in a log, errors one line.

    The log file is named for ``command``; ``command_line`` is what a second writer is
    told it waits for. Returns the exit status.
    """

    def locked() -> None:
        with warehouse_lock(
            settings.warehouse_path(), timeout_s=lock_timeout, what=command_line, say=warn
        ):
            body()

    with ExitStack() as stack:
        if not verbose:
            stack.enter_context(console.details_to(log_file(settings.data_dir() / "logs", command)))
        echo = _Echo(logging.WARNING)
        logging.getLogger("dagster_project.warehouse").addHandler(echo)
        stack.callback(logging.getLogger("dagster_project.warehouse").removeHandler, echo)
        return guarded(locked, debug=debug)
