"""Connections to the DuckDB warehouse file.

DuckDB allows one writing process per file. Runs are serialized by the
Dagster instance (``dagster.yaml``: one run at a time, pool ``warehouse``
limit 1), and connections are opened per step and closed at once, so a lock
held by someone else (an analyst's CLI that opened the file read-write) is
waited for with backoff instead of failing the step at the first try.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
from dagster import ConfigurableResource

from dagster_project import settings

# The instance-wide concurrency pool every asset that writes the warehouse joins.
WAREHOUSE_POOL = "warehouse"

_LOCK_MESSAGES = ("Could not set lock on file", "Conflicting lock is held")


def is_lock_error(exc: BaseException) -> bool:
    return any(message in str(exc) for message in _LOCK_MESSAGES)


def connect(
    path: str | Path | None = None,
    *,
    read_only: bool = False,
    lock_timeout_s: float = 60.0,
) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting up to ``lock_timeout_s`` for another writer."""
    path = Path(path or settings.warehouse_path())
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.exists():
        raise FileNotFoundError(f"warehouse {path} does not exist yet: run the pipeline first")
    deadline = time.monotonic() + lock_timeout_s
    delay = 0.1
    while True:
        try:
            return duckdb.connect(
                str(path),
                read_only=read_only,
                # DuckDB would take 80% of RAM; the pipeline stays in a bounded share
                # and spills to disk beyond it.
                config={"memory_limit": settings.duckdb_memory_limit()},
            )
        except duckdb.IOException as exc:
            if not is_lock_error(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


@contextmanager
def connection(
    path: str | Path | None = None, *, read_only: bool = False, lock_timeout_s: float = 60.0
) -> Iterator[duckdb.DuckDBPyConnection]:
    conn = connect(path, read_only=read_only, lock_timeout_s=lock_timeout_s)
    try:
        yield conn
    finally:
        conn.close()


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse file, opened per use and closed right after."""

    path: str = ""
    lock_timeout_s: float = 60.0

    @property
    def resolved_path(self) -> Path:
        return Path(self.path) if self.path else settings.warehouse_path()

    @contextmanager
    def get_connection(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        with connection(
            self.resolved_path, read_only=read_only, lock_timeout_s=self.lock_timeout_s
        ) as conn:
            yield conn
