"""Activation: campaign files, the per-campaign plan, rendering, the gateway and the ledger.

The Dagster side (``defs``, the keys and selections) loads on first use, not on import:
a dispatch worker process imports the ledger and the gateway from this package and
should not read every campaign file and build every asset to do so.
"""

from __future__ import annotations

import importlib
from functools import cache

from dagster_project.lib.lazy_exports import lazy_getattr

_EXPORTS = {
    "DISPATCH_KEY": "dagster_project.activation.assets",
    "LEDGER_KEY": "dagster_project.activation.assets",
    "LINKS_KEY": "dagster_project.activation.assets",
    "PLAN_GATES": "dagster_project.activation.assets",
    "DISPATCH_SELECTION": "dagster_project.activation.jobs",
    "PLAN_SELECTION": "dagster_project.activation.jobs",
    "build_defs": "dagster_project.activation.jobs",
}

__all__ = [*_EXPORTS, "defs"]


@cache
def _defs():
    return importlib.import_module("dagster_project.activation.jobs").build_defs()


__getattr__ = lazy_getattr(__name__, _EXPORTS, _defs)
