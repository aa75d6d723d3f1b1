"""Journeys: multi-step lifecycle programs per customer (files, engine, state, assets).

``spec`` reads the files, ``engine`` moves one entry (pure), ``state`` keeps entries
durable beside the ledger, ``advance`` ties them to the warehouse, ``assets`` to Dagster.

The Dagster side (``defs`` and the assets, jobs and sensors) loads on first use, not on
import, as in ``dagster_project.activation``: a process that only advances journeys
(``advance``) or reads their state should not import Dagster's dbt integration and the
quality gates to do so.
"""

from __future__ import annotations

import importlib
from functools import cache

from dagster_project.lib.lazy_exports import lazy_getattr

_ASSETS = "dagster_project.journeys.assets"
_EXPORTS = {
    name: _ASSETS
    for name in (
        "activation_journeys",
        "journey_gates",
        "journeys_job",
        "journeys_sensor",
        "journeys_then_dispatch",
    )
}

__all__ = [*_EXPORTS, "defs"]


@cache
def _defs():
    from dagster import Definitions

    assets = importlib.import_module(_ASSETS)
    return Definitions(
        assets=[assets.activation_journeys],
        asset_checks=assets.journey_gates,
        jobs=[assets.journeys_job],
        sensors=[assets.journeys_sensor, assets.journeys_then_dispatch],
    )


__getattr__ = lazy_getattr(__name__, _EXPORTS, _defs)
