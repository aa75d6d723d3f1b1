"""Publish a read-only copy of the warehouse for analysts.

The copy is written beside the target and renamed into place, so a reader
either sees the previous snapshot or the new one, never a half-written file,
and a reader holding the old file open keeps reading it undisturbed.
"""

import os
from pathlib import Path

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


def publish_copy(conn: duckdb.DuckDBPyConnection, target: Path) -> dict[str, int]:
    """Copy every schema and table of ``conn``'s database to ``target``, atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    for stale in (tmp, Path(str(tmp) + ".wal")):
        stale.unlink(missing_ok=True)
    source = conn.execute("SELECT current_database()").fetchone()[0]
    conn.execute("CHECKPOINT")
    conn.execute(f"ATTACH '{tmp}' AS _snapshot")
    try:
        conn.execute(f'COPY FROM DATABASE "{source}" TO _snapshot')
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
    os.replace(tmp, target)
    return counts


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
        counts = publish_copy(conn, target)
    context.log.info(f"published {len(counts)} tables to {target}")
    return MaterializeResult(
        metadata={
            "path": str(target),
            "tables": len(counts),
            "rows": sum(counts.values()),
            "size_mib": round(target.stat().st_size / 2**20, 1),
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
