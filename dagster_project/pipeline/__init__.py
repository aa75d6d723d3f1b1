"""Command line for running the pipeline outside the UI (``make demo`` uses it).

    python -m dagster_project.pipeline all [--start DAY] [--end DAY] [--as-of DAY]
    python -m dagster_project.pipeline ingest [--start DAY] [--end DAY]
    python -m dagster_project.pipeline transform [--as-of DAY]
    python -m dagster_project.pipeline publish
    python -m dagster_project.pipeline activate [--now ISO]
    python -m dagster_project.pipeline demo [--send-day DAY] [--uplift U]
    python -m dagster_project.pipeline summary
    python -m dagster_project.pipeline preview CAMPAIGN [--day DAY] [--now ISO]

``ingest`` materializes the reference snapshots, then every delivery day found
in the landing folder as one single-run backfill; ``transform`` runs ``dbt
build`` as of ``--as-of`` (default today) and warns when the newest purchase is
far older than that day; ``publish`` refreshes the analysts' read-only copy;
``all`` does these three in order and sends nothing. ``activate`` plans the
campaigns for today (UTC) and sends what is due through the gateway
``SMS_GATEWAY`` names (the sandbox by default): it is the one command that
sends, besides ``demo``, which sends through the sandbox only. ``summary``
prints the marts' day, rows loaded and rejected per source and customers per
lifecycle stage and segment, from the published copy (never the live warehouse);
``preview`` (``make preview``) shows one campaign's plan from it, sending nothing.

Runs go to the Dagster instance in ``$DAGSTER_HOME``, so they show in ``make
dev``. Each command holds the warehouse's writer lock while it runs: a second
writer (another command, a run the UI started) waits its turn and says whom it
waits for. The terminal gets a few lines; Dagster's and dbt's logs go to
``$SMS_DATA_DIR/logs/`` (``--verbose`` shows them instead). An error is one line
and exit status 1 (``--debug`` adds the traceback).
"""

from dagster_project.pipeline.cli import main, parse_uplift

__all__ = ["main", "parse_uplift"]

# The steps import Dagster and the code location; they load on first use, so that
# `python -m dagster_project.pipeline` can catch a broken campaign file in one line.
_LAZY = {
    "demo_loop": "dagster_project.pipeline.demo",
    "demo_days": "dagster_project.pipeline.demo",
    "DEMO_DISPATCH_HOURS": "dagster_project.pipeline.demo",
    "print_performance": "dagster_project.pipeline.output",
    "summary": "dagster_project.pipeline.output",
}


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    runs = importlib.import_module("dagster_project.pipeline.runs")
    if hasattr(runs, name):
        return getattr(runs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
