"""Connections to the DuckDB warehouse file, and who may write it when.

DuckDB allows one writing process per file. Every pipeline writer holds the
warehouse's writer lock (``warehouse_lock``: the command line for its whole
command, a Dagster run for its whole run through ``WarehouseResource``, the dbt
build around dbt), so a second writer waits its turn and says whom it waits
for. Connections are opened per step and closed at once; a DuckDB lock held
outside the pipeline (a notebook or the ``duckdb`` CLI that opened the file
read-write) is waited for too, up to ``LOCK_TIMEOUT_S``, naming its PID.
Readers of the published copy take no lock and are never blocked.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr

from dagster_project import settings
from dagster_project.lib.warehouse_lock import Say, WarehouseLockTimeout, holds, warehouse_lock

# The instance-wide concurrency pool every asset that writes the warehouse joins.
WAREHOUSE_POOL = "warehouse"
# How long a connection waits for DuckDB's own file lock held outside the pipeline.
LOCK_TIMEOUT_S = 60.0
# How long a Dagster run waits for another pipeline writer (a command-line run, a run of
# another instance) before failing: its turn, as in the instance's run queue.
RUN_LOCK_TIMEOUT_S = 3600.0

_LOCK_MESSAGES = ("Could not set lock on file", "Conflicting lock is held")
_HOLDER = re.compile(r"Conflicting lock is held in (?P<program>.+?) \(PID (?P<pid>\d+)\)")
# Waits are also logged here, so a command line can show them while a run's log gets them
# too; no output of its own unless someone listens.
log = logging.getLogger(__name__)
log.addHandler(logging.NullHandler())


def is_lock_error(exc: BaseException) -> bool:
    return any(message in str(exc) for message in _LOCK_MESSAGES)


def lock_holder(exc: BaseException) -> str:
    """'PID 123 (/usr/bin/python3)' from DuckDB's lock error, or what it says."""
    found = _HOLDER.search(str(exc))
    return f"PID {found['pid']} ({found['program']})" if found else "another process"


def _say(say: Say | None, text: str) -> None:
    log.warning(text)
    if say is not None:
        say(text)


def connect(
    path: str | Path | None = None,
    *,
    read_only: bool = False,
    lock_timeout_s: float = LOCK_TIMEOUT_S,
    say: Say | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting up to ``lock_timeout_s`` for a DuckDB lock held elsewhere."""
    path = Path(path or settings.warehouse_path())
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.exists():
        raise FileNotFoundError(f"warehouse {path} does not exist yet: run the pipeline first")
    began = time.monotonic()
    delay = 0.1
    first_seen = None
    while True:
        try:
            conn = duckdb.connect(
                str(path),
                read_only=read_only,
                # DuckDB would take 80% of RAM; the pipeline stays in a bounded share
                # and spills to disk beyond it.
                config={"memory_limit": settings.duckdb_memory_limit()},
            )
        except duckdb.IOException as exc:
            if not is_lock_error(exc):
                raise
            waited = time.monotonic() - began
            if waited >= lock_timeout_s:
                raise WarehouseLockTimeout(
                    f"gave up after {waited:.0f} s waiting for the lock on {path} held by "
                    f"{lock_holder(exc)}, outside the pipeline (a notebook or the duckdb "
                    "CLI with the file open read-write?)"
                ) from exc
            if first_seen is None:
                first_seen = datetime.now(UTC)
                _say(
                    say,
                    f"waiting for the warehouse lock held by {lock_holder(exc)} since "
                    f"{first_seen:%Y-%m-%d %H:%M:%S} UTC or earlier (DuckDB's lock on {path}; "
                    f"up to {lock_timeout_s:.0f} s)",
                )
            time.sleep(delay)
            delay = min(delay * 2, 2.0)
            continue
        if first_seen is not None:
            _say(say, f"got the warehouse after {time.monotonic() - began:.1f} s")
        return conn


@contextmanager
def connection(
    path: str | Path | None = None,
    *,
    read_only: bool = False,
    lock_timeout_s: float = LOCK_TIMEOUT_S,
    say: Say | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = connect(path, read_only=read_only, lock_timeout_s=lock_timeout_s, say=say)
    try:
        yield conn
    finally:
        conn.close()


def wait_until_free(path: str | Path | None = None, *, say: Say | None = None) -> None:
    """Wait (saying so) until DuckDB's own lock on the file is free: before dbt opens it."""
    path = Path(path or settings.warehouse_path())
    connect(path, say=say).close()


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse file, opened per use and closed right after.

    A run that uses it holds the warehouse's writer lock from start to end (waiting up
    to ``run_lock_timeout_s`` for a command-line run or another writer, saying whom it
    waits for), so a run and a command-line run never interleave.
    """

    path: str = ""
    lock_timeout_s: float = LOCK_TIMEOUT_S
    run_lock_timeout_s: float = RUN_LOCK_TIMEOUT_S
    _say: Say | None = PrivateAttr(default=None)

    @property
    def resolved_path(self) -> Path:
        return Path(self.path) if self.path else settings.warehouse_path()

    @contextmanager
    def yield_for_execution(self, context: InitResourceContext) -> Iterator[WarehouseResource]:
        self._say = context.log.warning if context.log else None
        run = context.dagster_run
        what = f"Dagster run {run.run_id} ({run.job_name})" if run else None
        with warehouse_lock(
            self.resolved_path, timeout_s=self.run_lock_timeout_s, what=what, say=self._say
        ):
            yield self

    @contextmanager
    def get_connection(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with ExitStack() as stack:
            if not read_only and not holds(self.resolved_path):
                # Used outside a run (a test, a script): hold the writer lock meanwhile.
                stack.enter_context(
                    warehouse_lock(
                        self.resolved_path, timeout_s=self.run_lock_timeout_s, say=self._say
                    )
                )
            yield stack.enter_context(
                connection(
                    self.resolved_path,
                    read_only=read_only,
                    lock_timeout_s=self.lock_timeout_s,
                    say=self._say,
                )
            )
