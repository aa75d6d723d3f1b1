"""The operational store's settings: a clear error for a value the pipeline cannot use."""

import pytest

from dagster_project import opstore, settings


def test_the_embedded_store_is_the_default(monkeypatch):
    monkeypatch.delenv("SMS_OPSTORE", raising=False)
    assert settings.opstore_kind() == "embedded" and not opstore.external()
    assert opstore.describe() == "embedded (the warehouse file)"


def test_postgres_is_chosen_by_name_in_any_case(monkeypatch):
    monkeypatch.setenv("SMS_OPSTORE", " PostgreS ")
    assert settings.opstore_kind() == "postgres" and opstore.external()


def test_an_unknown_store_names_the_variable_and_the_choices(monkeypatch):
    monkeypatch.setenv("SMS_OPSTORE", "mysql")
    with pytest.raises(settings.SettingError, match=r"SMS_OPSTORE='mysql'.*embedded, postgres"):
        settings.opstore_kind()


def test_the_description_of_the_store_shows_no_password(monkeypatch):
    monkeypatch.setenv("SMS_OPSTORE", "postgres")
    monkeypatch.setenv("SMS_POSTGRES_DSN", "postgresql://sms:s3cret@db.internal:6432/ops")
    assert opstore.describe() == "postgres db.internal:6432/ops"
    assert "s3cret" not in opstore.describe()


@pytest.mark.parametrize("raw", ["0", "65", "four", "-1"])
def test_dispatch_workers_must_be_a_small_whole_number(monkeypatch, raw):
    monkeypatch.setenv("SMS_DISPATCH_WORKERS", raw)
    with pytest.raises(settings.SettingError, match="SMS_DISPATCH_WORKERS"):
        settings.dispatch_workers()


def test_dispatch_workers_default_to_one(monkeypatch):
    monkeypatch.delenv("SMS_DISPATCH_WORKERS", raising=False)
    assert settings.dispatch_workers() == 1
    monkeypatch.setenv("SMS_DISPATCH_WORKERS", "4")
    assert settings.dispatch_workers() == 4


def test_the_embedded_store_is_the_warehouse_connection(monkeypatch):
    monkeypatch.delenv("SMS_OPSTORE", raising=False)
    marker = object()
    with opstore.connection(marker) as store:
        assert store is marker
    with pytest.raises(ValueError, match="pass its connection"), opstore.connection():
        pass
