"""The command line (``python -m dagster_project.pipeline``); its usage is in ``cli.py``."""

from dagster_project.pipeline.cli import main, run_locked

__all__ = ["main", "run_locked"]

# The steps import Dagster and the code location; they load on first use, so that
# `python -m dagster_project.pipeline` can catch a broken campaign file in one line.
_LAZY = {
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
