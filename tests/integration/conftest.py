"""Generated worlds for the integration tests: the demo generator runs once per parameter set
per test session, however many modules ask for it.

A module that only reads the landing files and the truth uses them where they lie; a module
whose pipeline or tests write beside them (a warehouse, a published copy, a moved file) takes
its own copy with ``copy_to``, so no test's writes reach another module's assertions.

Under ``pytest -n`` a world is made once for the whole session, not once per worker: the
first worker to ask makes it in the folder the workers share while holding a lock on it, the
others wait for the lock and use what it made (two modules on two workers that send on the
same built world no longer build it twice).
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import os
import pickle
import shutil
from collections.abc import Callable
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


def _made_once(tmp_path_factory, kind: str, key: tuple, make: Callable[[Path], None]) -> Path:
    """The folder ``make(folder)`` filled for ``key``, made by the first worker of the session
    that asks for it (a lock held meanwhile) and only found by the others."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, above each worker's own
    name = f"{kind}-{hashlib.sha256(repr(key).encode()).hexdigest()[:16]}"
    folder, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            if folder.exists():  # a worker failed halfway: start again
                shutil.rmtree(folder)
            folder.mkdir()
            make(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """``generated(customers=..., days=..., seed=..., end=..., **more)``: the generator's
    output for those parameters, made on first use and shared after. Read only."""
    made: dict[tuple, Generated] = {}

    def make(**params) -> Generated:
        key = tuple(sorted(params.items()))
        if key not in made:

            def run(base: Path) -> None:
                summary = generate(out=base / "landing", truth_dir=base / "truth", **params)
                (base / "summary.pickle").write_bytes(pickle.dumps(summary))

            base = _made_once(tmp_path_factory, "generated", key, run)
            summary = pickle.loads((base / "summary.pickle").read_bytes())
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
        if key not in made:
            made[key] = _made_once(
                tmp_path_factory, "built", key, lambda base: build(as_of, base, params)
            )
        return made[key]

    def build(as_of, base: Path, params: dict) -> None:
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
