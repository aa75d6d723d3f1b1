"""Journeys: multi-step lifecycle programs per customer (files, engine, state, assets).

``spec`` reads the files, ``engine`` moves one entry (pure), ``state`` keeps entries
durable beside the ledger, ``advance`` ties them to the warehouse, ``assets`` to Dagster.
"""

from dagster import Definitions

from dagster_project.journeys.assets import (
    activation_journeys,
    journey_gates,
    journeys_job,
    journeys_sensor,
    journeys_then_dispatch,
)

defs = Definitions(
    assets=[activation_journeys],
    asset_checks=journey_gates,
    jobs=[journeys_job],
    sensors=[journeys_sensor, journeys_then_dispatch],
)
