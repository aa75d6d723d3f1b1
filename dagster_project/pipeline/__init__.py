"""The command line (``python -m dagster_project.pipeline``); its usage is in ``cli.py``."""

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
