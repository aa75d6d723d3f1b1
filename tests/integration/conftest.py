"""Generated worlds for the integration tests: the demo generator runs once per parameter set
per test session, however many modules ask for it.

A module that only reads the landing files and the truth uses them where they lie; a module
whose pipeline or tests write beside them (a warehouse, a published copy, a moved file) takes
its own copy with ``copy_to``, so no test's writes reach another module's assertions.
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from demo import generate


@dataclass(frozen=True)
class Generated:
    landing: Path
    truth: Path
    summary: object

    def copy_to(self, base: Path) -> object:
        """``base/landing`` and ``base/truth`` as the generator wrote them; its summary."""
        shutil.copytree(self.landing, base / "landing")
        shutil.copytree(self.truth, base / "truth")
        return copy.deepcopy(self.summary)


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """``generated(customers=..., days=..., seed=..., end=..., **more)``: the generator's
    output for those parameters, made on first use and shared after. Read only."""
    made: dict[tuple, Generated] = {}

    def make(**params) -> Generated:
        key = tuple(sorted(params.items()))
        if key not in made:
            base = tmp_path_factory.mktemp("generated")
            summary = generate(out=base / "landing", truth_dir=base / "truth", **params)
            made[key] = Generated(base / "landing", base / "truth", summary)
        return made[key]

    return make


@pytest.fixture(scope="session")
def built(tmp_path_factory, generated):
    """``built(as_of=DAY, customers=..., days=..., seed=..., end=...)``: a folder holding the
    generated landing files and a warehouse with every delivery day loaded and the dbt
    models built as of ``as_of`` (real Dagster runs, an ephemeral instance). Made on first
    use and shared after: read only; a module copies the warehouse before writing to it."""
    from datetime import timedelta

    from dagster import AssetSelection, DagsterInstance

    from dagster_project.activation.gateway.resource import GatewayResource
    from dagster_project.definitions import materialize_selection
    from dagster_project.ingest.assets import daily_assets, reference_assets
    from dagster_project.ingest.jobs import RANGE_END_TAG, RANGE_START_TAG
    from dagster_project.transform import dbt_models

    made: dict[tuple, Path] = {}
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}

    def make(as_of, **params) -> Path:
        key = (as_of, *sorted(params.items()))
        if key in made:
            return made[key]
        base = tmp_path_factory.mktemp("built")
        generated(**params).copy_to(base)
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("SMS_DATA_DIR", str(base))
            mp.setenv("SMS_LANDING_DIR", str(base / "landing"))
            mp.setenv("SMS_WAREHOUSE_PATH", str(base / "warehouse.duckdb"))
            with DagsterInstance.ephemeral() as instance:

                def run(selection, **kw):
                    return materialize_selection(
                        selection, instance=instance, resources={"gateway": GatewayResource()}, **kw
                    )

                assert run(AssetSelection.assets(*reference_assets), run_config=quiet).success
                end = params["end"]
                start = end - timedelta(days=params["days"] - 1)
                assert run(
                    AssetSelection.assets(*daily_assets, dbt_models),
                    run_config={
                        **quiet,
                        "ops": {"dbt_models": {"config": {"as_of": as_of.isoformat()}}},
                    },
                    tags={RANGE_START_TAG: start.isoformat(), RANGE_END_TAG: end.isoformat()},
                ).success
        made[key] = base
        return base

    return make


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server (Debian's binaries, ``demo/postgres.py``) for the session's
    worker: started on first use on a loopback port, removed at the end."""
    from demo.postgres import LocalPostgres

    with LocalPostgres(durable=False) as server:
        yield server


@pytest.fixture
def postgres_dsn(postgres_server, request):
    """A fresh, empty database on the session's server for one test: its DSN."""
    from support.databases import new_database

    return new_database(postgres_server, request.node.name)
