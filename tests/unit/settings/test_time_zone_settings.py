"""The business's and the shop's time zones: one setting each (dbt's reading of them:
integration/test_dbt_time_zones.py)."""

import os

import pytest

from dagster_project import settings

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
