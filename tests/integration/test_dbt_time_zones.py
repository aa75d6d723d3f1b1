"""The time-zone settings as dbt reads them: the same variables, the same defaults (a real
dbt compile; the Python side is unit/settings/test_time_zone_settings.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dagster_project import settings

DBT_DIR = Path(__file__).resolve().parents[2] / "dbt"
ZONES = ("SMS_BUSINESS_TIME_ZONE", "SMS_SHOP_TIME_ZONE")


@pytest.fixture
def no_zones(monkeypatch):
    for name in ZONES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _dbt_zones(tmp_path, **env) -> subprocess.CompletedProcess:
    """What dbt's macros make of the environment (a real compile, nothing built)."""
    clean = {k: v for k, v in os.environ.items() if k not in ZONES}
    command = [
        str(Path(sys.executable).with_name("dbt")), "compile", "--quiet", "--inline",
        "select '{{ business_time_zone() }}|{{ shop_time_zone() }}' as zones",
        "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
        "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs"),
        "--vars", '{"as_of": "2026-03-10"}',
    ]  # fmt: skip
    return subprocess.run(
        command,
        env={**clean, "SMS_WAREHOUSE_PATH": str(tmp_path / "w.duckdb"), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_dbt_reads_the_same_variables_with_the_same_defaults(tmp_path, no_zones):
    unset = _dbt_zones(tmp_path)
    assert unset.returncode == 0, unset.stdout + unset.stderr
    assert f"'{settings.business_time_zone()}|{settings.shop_time_zone()}'" in unset.stdout
    no_zones.setenv("SMS_BUSINESS_TIME_ZONE", "America/Chicago")
    business_only = _dbt_zones(tmp_path, SMS_BUSINESS_TIME_ZONE="America/Chicago")
    assert business_only.returncode == 0, business_only.stdout + business_only.stderr
    assert f"'America/Chicago|{settings.shop_time_zone()}'" in business_only.stdout
    wrong = _dbt_zones(tmp_path, SMS_SHOP_TIME_ZONE="Mars/Olympus")
    assert wrong.returncode != 0
    assert "SMS_SHOP_TIME_ZONE='Mars/Olympus' is not a time zone" in wrong.stdout + wrong.stderr
