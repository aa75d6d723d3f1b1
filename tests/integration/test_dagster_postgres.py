"""Dagster's instance on PostgreSQL (dagster.postgres.yaml, dagster-postgres) against a real
server: runs, their events and schedule state land in its tables, and the run queue and the
warehouse pool are enforced from there as the file says.

Each test takes a fresh database (``postgres_dsn``) and an instance loaded from the file as
`make dev DAGSTER_STORAGE=postgres` copies it, the connection from DAGSTER_POSTGRES_*. The
project's own ``ingest_reference`` job is the run: two warehouse-pool steps that load an
empty landing folder in well under a second.
"""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import yaml
from dagster import DagsterInstance

from dagster_project.definitions import defs
from dagster_project.warehouse import WAREHOUSE_POOL

REPO = Path(__file__).resolve().parents[2]
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
JOB = "ingest_reference"
STEPS = {"raw__pos_stores", "raw__shop_products"}


def sql(dsn: str, query: str, *params) -> list[tuple]:
    with psycopg.connect(dsn) as conn:
        return conn.execute(query, params).fetchall()


def wait_for(what, predicate, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while not (found := predicate()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
    return found


@pytest.fixture
def home(postgres_dsn, tmp_path, monkeypatch) -> Path:
    """A DAGSTER_HOME holding dagster.postgres.yaml, the server's parts in the environment
    (the code server and run workers the queue test starts read them there too), and the
    project's paths in the test's own folder."""
    url = urlsplit(postgres_dsn)
    for name, value in {
        "HOST": url.hostname,
        "PORT": str(url.port),
        "USER": url.username,
        "PASSWORD": url.password or "",  # trust authentication: set, and empty
        "DB": url.path.lstrip("/"),
    }.items():
        monkeypatch.setenv(f"DAGSTER_POSTGRES_{name}", value)
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.postgres.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("SMS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SMS_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("SMS_WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))
    monkeypatch.setenv("SMS_PUBLISHED_PATH", str(tmp_path / "published" / "warehouse.duckdb"))
    return home


@pytest.fixture
def instance(home):
    with DagsterInstance.from_config(str(home)) as instance:
        yield instance


def test_the_file_is_dagster_yaml_plus_postgres_storage_from_the_environment():
    default = yaml.safe_load((REPO / "dagster.yaml").read_text())
    postgres = yaml.safe_load((REPO / "dagster.postgres.yaml").read_text())
    storage = postgres.pop("storage")
    assert postgres == default
    db = storage["postgres"]["postgres_db"]
    # The driver is pinned: a bare postgresql:// is psycopg 3 under SQLAlchemy 2.1.
    assert db.pop("scheme") == "postgresql+psycopg2"
    assert db == {
        field: {"env": f"DAGSTER_POSTGRES_{name}"}
        for field, name in [
            ("hostname", "HOST"),
            ("port", "PORT"),
            ("username", "USER"),
            ("password", "PASSWORD"),
            ("db_name", "DB"),
        ]
    }


def test_runs_and_their_events_are_stored_in_postgres(instance, postgres_dsn):
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"

    result = defs.resolve_job_def(JOB).execute_in_process(instance=instance, run_config=QUIET)
    assert result.success
    run_id = result.run_id

    assert sql(postgres_dsn, "SELECT run_id, pipeline_name, status FROM runs") == [
        (run_id, JOB, "SUCCESS")
    ]
    events = sql(
        postgres_dsn,
        "SELECT dagster_event_type, step_key FROM event_logs WHERE run_id = %s ORDER BY id",
        run_id,
    )
    types = [t for t, _ in events]
    assert types[0] == "ASSET_MATERIALIZATION_PLANNED" and types[-1] == "PIPELINE_SUCCESS"
    for kind in ("STEP_START", "ASSET_MATERIALIZATION", "STEP_SUCCESS"):
        assert {step for t, step in events if t == kind} == STEPS, kind
    # Every event the instance reads back is one of these rows.
    assert len(instance.all_logs(run_id)) == len(events)
    assert sql(postgres_dsn, "SELECT asset_key FROM asset_keys ORDER BY 1") == [
        ('["raw", "pos_stores"]',),
        ('["raw", "shop_products"]',),
    ]

    # The pool's limit is written on the first claim of a step in it: the file's default.
    assert sql(
        postgres_dsn, 'SELECT concurrency_key, "limit", using_default_limit FROM concurrency_limits'
    ) == [(WAREHOUSE_POOL, 1, True)]
    assert sql(postgres_dsn, "SELECT run_id FROM concurrency_slots") == [(None,)]


def test_a_run_waits_for_the_warehouse_slot_another_run_holds(instance, postgres_dsn):
    storage = instance.event_log_storage
    config = instance.get_concurrency_config().pool_config
    assert config.default_pool_limit == 1
    # Until a step claims a slot the pool has no row: the default limit is applied then.
    assert storage.get_pool_limits() == []
    assert storage.initialize_concurrency_limit_to_default(WAREHOUSE_POOL)
    assert storage.get_concurrency_info(WAREHOUSE_POOL).slot_count == 1

    # Another run's step holds the one slot; a second claim waits.
    assert storage.claim_concurrency_slot(WAREHOUSE_POOL, "other-run", "write").is_claimed
    assert not storage.claim_concurrency_slot(WAREHOUSE_POOL, "third-run", "write").is_claimed
    storage.free_concurrency_slot_for_step("third-run", "write")

    finished = {}
    run = threading.Thread(
        target=lambda: finished.update(
            result=defs.resolve_job_def(JOB).execute_in_process(
                instance=instance, run_config=QUIET, raise_on_error=False
            )
        )
    )

    def blocked() -> list[tuple]:
        """(run id, step) of the engine's "blocked by limit" events in PostgreSQL."""
        return sql(
            postgres_dsn,
            "SELECT run_id, step_key FROM event_logs WHERE dagster_event_type = 'ENGINE_EVENT' "
            "AND event LIKE %s",
            f"%Step blocked by limit for pool {WAREHOUSE_POOL}%",
        )

    run.start()
    try:
        wait_for("both steps blocked by the pool", lambda: {s for _, s in blocked()} == STEPS)
        [run_id] = {r for r, _ in blocked()}
        assert sql(
            postgres_dsn,
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = "
            "'STEP_START'",
            run_id,
        ) == [(0,)]
        # Both steps are queued for the slot in PostgreSQL, neither assigned one.
        assert sql(
            postgres_dsn,
            "SELECT step_key, assigned_timestamp IS NULL FROM pending_steps WHERE run_id = %s "
            "ORDER BY step_key",
            run_id,
        ) == [(step, True) for step in sorted(STEPS)]
    finally:
        storage.free_concurrency_slot_for_step("other-run", "write")
        run.join(timeout=120)
    assert not run.is_alive() and finished["result"].success
    # The slot is free again and nobody waits.
    info = storage.get_concurrency_info(WAREHOUSE_POOL)
    assert (info.slot_count, info.claimed_slots, info.pending_steps) == (1, [], [])


def test_the_run_queue_launches_one_run_at_a_time(instance, home, postgres_dsn):
    """What `dagster dev`'s daemon does: the queued run coordinator's loop, launching
    through a code server from workspace.yaml as the UI's runs are."""
    from dagster._core.remote_representation.grpc_server_registry import GrpcServerRegistry
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import (
        QueuedRunCoordinatorDaemon,
    )
    from dagster._grpc.constants import GrpcServerCommand

    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    assert instance.get_concurrency_config().run_queue_config.max_concurrent_runs == 1

    def statuses(run_ids):
        rows = dict(sql(postgres_dsn, "SELECT run_id, status FROM runs"))
        return [rows[r] for r in run_ids]

    def finished(run_id):
        return instance.get_run_by_id(run_id).is_finished

    # Waits for the code server and the run workers it started before the database goes.
    registry = GrpcServerRegistry(
        instance_ref=instance.get_ref(),
        server_command=GrpcServerCommand.API_GRPC,
        heartbeat_ttl=60,
        startup_timeout=180,
        wait_for_processes_on_shutdown=True,
    )
    with (
        registry,
        WorkspaceProcessContext(
            instance,
            WorkspaceFileTarget(paths=[str(REPO / "workspace.yaml")]),
            grpc_server_registry=registry,
        ) as workspace,
        QueuedRunCoordinatorDaemon(interval_seconds=1) as daemon,
    ):
        request = workspace.create_request_context()
        location = request.get_code_location("sms_lifecycle")
        [repository] = location.get_repositories().values()
        remote = repository.get_full_job(JOB)
        run_ids = []
        for _ in range(2):
            run = instance.create_run_for_job(
                defs.resolve_job_def(JOB),
                run_config=QUIET,
                remote_job_origin=remote.get_remote_origin(),
                job_code_origin=remote.get_python_origin(),
            )
            instance.submit_run(run.run_id, request)
            run_ids.append(run.run_id)
        assert statuses(run_ids) == ["QUEUED", "QUEUED"]

        list(daemon.run_iteration(workspace))
        first, second = statuses(run_ids)
        assert first != "QUEUED" and second == "QUEUED"
        # Asked again at once, while the first starts (its worker takes seconds): the
        # order of events below shows it launched nothing.
        list(daemon.run_iteration(workspace))

        wait_for("the first run to finish", lambda: finished(run_ids[0]))
        list(daemon.run_iteration(workspace))
        wait_for("the second run to finish", lambda: finished(run_ids[1]))
    assert statuses(run_ids) == ["SUCCESS", "SUCCESS"]

    # In PostgreSQL's event log: the second run started only after the first had ended.
    order = sql(
        postgres_dsn,
        "SELECT run_id, dagster_event_type FROM event_logs WHERE dagster_event_type IN "
        "('PIPELINE_STARTING', 'PIPELINE_SUCCESS') ORDER BY id",
    )
    assert order == [
        (run_ids[0], "PIPELINE_STARTING"),
        (run_ids[0], "PIPELINE_SUCCESS"),
        (run_ids[1], "PIPELINE_STARTING"),
        (run_ids[1], "PIPELINE_SUCCESS"),
    ]


def test_a_started_schedule_is_kept_in_postgres(instance, home, postgres_dsn):
    from dagster._core.remote_origin import InProcessCodeLocationOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget

    origin = InProcessCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(module_name="dagster_project.definitions"),
        location_name="sms_lifecycle",
    )
    with WorkspaceProcessContext(instance, InProcessWorkspaceLoadTarget(origin)) as workspace:
        location = workspace.create_request_context().get_code_location("sms_lifecycle")
        [repository] = location.get_repositories().values()
        schedule = repository.get_schedule("ingest_daily_morning")
        instance.start_schedule(schedule)

    def rows():
        return sql(postgres_dsn, "SELECT instigator_type, status, instigator_body FROM instigators")

    [(kind, status, body)] = rows()
    assert (kind, status) == ("SCHEDULE", "RUNNING")
    assert '"ingest_daily_morning"' in body
    # Another process's instance reads it from the server, stops it, and that is stored.
    with DagsterInstance.from_config(str(home)) as other:
        [state] = other.all_instigator_state()
        assert (state.name, state.status.value) == ("ingest_daily_morning", "RUNNING")
        other.stop_schedule(state.instigator_origin_id, state.selector_id, schedule)
    assert [(k, s) for k, s, _ in rows()] == [("SCHEDULE", "STOPPED")]
