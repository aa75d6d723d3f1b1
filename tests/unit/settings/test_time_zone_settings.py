"""The business's and the shop's time zones: one setting each, read alike by Python and dbt."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dagster_project import settings

DBT_DIR = Path(__file__).resolve().parents[3] / "dbt"
ZONES = ("SMS_BUSINESS_TIME_ZONE", "SMS_SHOP_TIME_ZONE")


@pytest.fixture
def no_zones(monkeypatch):
    for name in ZONES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_the_business_zone_defaults_to_utc_and_the_shop_follows_it(no_zones):
    assert (settings.business_time_zone(), settings.shop_time_zone()) == ("UTC", "UTC")
    no_zones.setenv("SMS_BUSINESS_TIME_ZONE", "America/New_York")
    assert settings.shop_time_zone() == "America/New_York"
    no_zones.setenv("SMS_SHOP_TIME_ZONE", "  America/Los_Angeles ")
    assert settings.shop_time_zone() == "America/Los_Angeles"
    no_zones.setenv("SMS_SHOP_TIME_ZONE", "")  # empty is unset, as in dbt
    assert settings.shop_time_zone() == "America/New_York"


@pytest.mark.parametrize("variable", ZONES)
def test_a_misspelt_zone_fails_naming_its_variable(no_zones, variable):
    no_zones.setenv(variable, "Europe/Berlinn")
    with pytest.raises(ValueError, match=f"{variable}='Europe/Berlinn' is not a time zone"):
        settings.business_time_zone() if variable == ZONES[0] else settings.shop_time_zone()


def test_the_zones_are_exported_for_dbt_and_restored_after(no_zones):
    no_zones.setenv("SMS_BUSINESS_TIME_ZONE", "Europe/Istanbul")
    with settings.exported_warehouse_path():
        assert os.environ["SMS_SHOP_TIME_ZONE"] == "Europe/Istanbul"
    assert "SMS_SHOP_TIME_ZONE" not in os.environ
    no_zones.setenv("SMS_SHOP_TIME_ZONE", "Mars/Olympus")
    with pytest.raises(ValueError, match="SMS_SHOP_TIME_ZONE"), settings.exported_warehouse_path():
        pass


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
