"""dbt reads the same warehouse setting as Dagster, and sends no usage statistics."""

import os
import subprocess
import sys
from pathlib import Path

import duckdb

DBT_DIR = Path(__file__).resolve().parents[2] / "dbt"


def test_dbt_connects_to_the_warehouse_named_by_the_environment(tmp_path):
    warehouse = tmp_path / "elsewhere.duckdb"
    duckdb.connect(str(warehouse)).close()
    env = {**os.environ, "SMS_WAREHOUSE_PATH": str(warehouse)}
    dbt = Path(sys.executable).with_name("dbt")
    out = subprocess.run(
        [
            str(dbt),
            "debug",
            "--project-dir",
            str(DBT_DIR),
            "--profiles-dir",
            str(DBT_DIR),
            "--log-path",
            str(tmp_path / "logs"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"path: {warehouse}" in out.stdout
    assert "Connection test: [OK connection ok]" in out.stdout.replace("\x1b[32m", "").replace(
        "\x1b[0m", ""
    )
    assert env["DO_NOT_TRACK"] == "1" and env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "False"
