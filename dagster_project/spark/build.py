"""dbt on the spark target: the loader's tables exported, then ``dbt build --target spark``."""

import json
import os
import subprocess
from pathlib import Path

from dagster_project import settings
from dagster_project.spark import raw_tables
from dagster_project.spark import settings as spark_settings
from dagster_project.transform import DBT_DIR, DBT_EXECUTABLE
from dagster_project.warehouse import connection


def export_warehouse(warehouse: Path | None = None) -> list[raw_tables.ExportedTable]:
    """The warehouse's source tables as Parquet for Spark (read-only on the warehouse)."""
    with connection(warehouse or settings.warehouse_path(), read_only=True) as conn:
        return raw_tables.export_tables(conn)


def run_dbt_spark(
    *args: str, work_dir: Path, as_of: str | None = None, check: bool = True
) -> subprocess.CompletedProcess:
    """The venv's dbt with ``--target spark`` (a local Spark session in dbt's process).

    Target and logs go to ``work_dir``. A build runs the unit tests too, but for the four
    disabled on Spark (their expectations spell DuckDB's internals; docs/spark.md).
    """
    command = [
        DBT_EXECUTABLE, *args, "--target", "spark",
        "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
        "--target-path", str(work_dir / "dbt_target_spark"),
        "--log-path", str(work_dir / "dbt_logs_spark"),
    ]  # fmt: skip
    if as_of:
        command += ["--vars", json.dumps({"as_of": as_of})]
    root = spark_settings.spark_dir()
    root.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SMS_SPARK_DIR": str(root)}
    return subprocess.run(command, env=env, check=check)
