"""Publish a read-only copy of the warehouse for analysts.

The copy is written beside the target and renamed into place, so a reader
either sees the previous snapshot or the new one, never a half-written file,
and a reader holding the old file open keeps reading it undisturbed.
"""

import os
import shutil
from pathlib import Path
from typing import NamedTuple

import duckdb
from dagster import (
    AssetExecutionContext,
    AssetSelection,
    DagsterRunStatus,
    DefaultSensorStatus,
    Definitions,
    MaterializeResult,
    RunRequest,
    asset,
    define_asset_job,
    run_status_sensor,
)

from dagster_project import settings
from dagster_project.quality.gates import require_passing_gates
from dagster_project.transform import final_models, refresh_marts_job
from dagster_project.warehouse import WAREHOUSE_POOL, WarehouseResource


class Published(NamedTuple):
    counts: dict[str, int]  # rows per "schema.table", read from the copy
    method: str  # "file" (byte copy) or "tables" (COPY FROM DATABASE)


def publish_copy(conn: duckdb.DuckDBPyConnection, target: Path) -> Published:
    """Copy every schema and table of ``conn``'s database to ``target``, atomically.

    A warehouse file is copied byte for byte after a checkpoint (the kernel's copy: seconds
    for gigabytes), and the copy is kept only if neither the file nor its write-ahead log
    changed while it was read; otherwise, and for an in-memory database, DuckDB copies it
    table by table in one transaction (``COPY FROM DATABASE``: consistent whatever runs
    beside it, but it decompresses and compresses every column).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    for stale in (tmp, _wal(tmp)):
        stale.unlink(missing_ok=True)
    source, path = conn.execute(
        "SELECT database_name, path FROM duckdb_databases() "
        "WHERE database_name = current_database()"
    ).fetchone()
    conn.execute("CHECKPOINT")
    method = "file"
    if path is None or not copy_quiet_file(Path(path), tmp):
        method = "tables"
        tmp.unlink(missing_ok=True)
        conn.execute(f"ATTACH '{tmp}' AS _snapshot")
        try:
            conn.execute(f'COPY FROM DATABASE "{source}" TO _snapshot')
        finally:
            conn.execute("DETACH _snapshot")
    conn.execute(f"ATTACH '{tmp}' AS _snapshot (READ_ONLY)")
    try:
        counts = {
            f"{schema}.{table}": conn.execute(
                f'SELECT count(*) FROM _snapshot."{schema}"."{table}"'
            ).fetchone()[0]
            for schema, table in conn.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                "WHERE table_catalog = '_snapshot' AND table_type = 'BASE TABLE' ORDER BY 1, 2"
            ).fetchall()
        }
    finally:
        conn.execute("DETACH _snapshot")
    # A log left by a writer of the old copy would be replayed into the new one.
    _wal(target).unlink(missing_ok=True)
    os.replace(tmp, target)
    return Published(counts, method)


def _wal(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def _file_state(path: Path) -> tuple[int, int, int]:
    """Size and modification time of a database file, and the size of its log (0: none)."""
    st = path.stat()
    wal = _wal(path)
    return st.st_size, st.st_mtime_ns, wal.stat().st_size if wal.exists() else 0


def copy_quiet_file(path: Path, tmp: Path) -> bool:
    """Copy a checkpointed database file to ``tmp``; False if it was written meanwhile.

    After a checkpoint every committed change is in the file and its log is empty; a commit
    while the copy reads would grow the log (or, checkpointed, change the file), so the same
    size, time and empty log before and after mean the copy is one consistent state. Only
    another connection of this process can write meanwhile: DuckDB lets no other process
    open a file this one holds for writing.
    """
    before = _file_state(path)
    if before[2]:  # something committed after the checkpoint: not a quiet file
        return False
    shutil.copyfile(path, tmp)
    return _file_state(path) == before


@asset(
    group_name="publish",
    # The models nothing else reads (the raw tables and every other model lie upstream):
    # a handful of edges that say "after the whole build", not one per table.
    deps=final_models(),
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    description=(
        "A read-only copy of the warehouse for analysts (raw tables and marts), replaced "
        "atomically after each successful rebuild, at `$SMS_PUBLISHED_PATH` "
        "(default data/published/warehouse.duckdb)."
    ),
)
def analytics_snapshot(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    require_passing_gates(context)  # analysts never get data a gate refused
    target = settings.published_path()
    with warehouse.get_connection() as conn:
        counts, method = publish_copy(conn, target)
    context.log.info(f"published {len(counts)} tables to {target} ({method} copy)")
    return MaterializeResult(
        metadata={
            "path": str(target),
            "tables": len(counts),
            "rows": sum(counts.values()),
            "size_mib": round(target.stat().st_size / 2**20, 1),
            "method": method,
        }
    )


publish_job = define_asset_job(
    "publish_snapshot", selection=AssetSelection.assets(analytics_snapshot)
)


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[refresh_marts_job],
    request_job=publish_job,
    default_status=DefaultSensorStatus.RUNNING,
    description="Refresh the analysts' copy after every successful rebuild of the marts.",
)
def publish_after_load(context) -> RunRequest:
    return RunRequest(run_key=context.dagster_run.run_id)


defs = Definitions(assets=[analytics_snapshot], jobs=[publish_job], sensors=[publish_after_load])
