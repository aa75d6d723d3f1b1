"""The landing sensor on a Dagster instance: which days it asks to load, and that it asks
once (the day arithmetic alone: unit/ingest/test_sensor_days.py)."""

from __future__ import annotations

import json
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from dagster import DagsterInstance, build_sensor_context

from dagster_project.ingest.jobs import RANGE_END_TAG, RANGE_START_TAG
from dagster_project.ingest.sensors import landing_sensor


def _drop(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def landing(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "landing"
    monkeypatch.setenv("SMS_LANDING_DIR", str(root))
    return root


def test_sensor_requests_new_days_as_ranges_and_late_files_once(landing):
    for day in ("2026-03-01", "2026-03-02", "2026-03-05"):
        _drop(landing, f"crm/tickets/{day}/t.csv", "Ticket ID\n")
    _drop(landing, "pos/stores.csv", "Location ID\n")
    with DagsterInstance.ephemeral() as instance:
        result = landing_sensor(build_sensor_context(instance=instance))
        by_job = {}
        for r in result.run_requests:
            by_job.setdefault(r.job_name, []).append(r)
        assert [r.asset_selection[0].to_user_string() for r in by_job["ingest_reference"]] == [
            "raw/pos_stores"
        ]
        ranges = sorted(
            (
                r.tags.get(RANGE_START_TAG, r.partition_key),
                r.tags.get(RANGE_END_TAG, r.partition_key),
            )
            for r in by_job["ingest_daily"]
        )
        assert ranges == [("2026-03-01", "2026-03-02"), ("2026-03-05", "2026-03-05")]
        assert all(
            r.asset_selection[0].to_user_string() == "raw/crm_tickets"
            for r in by_job["ingest_daily"]
        )

        # Nothing changed: nothing requested.
        cursor = result.cursor
        quiet = landing_sensor(build_sensor_context(instance=instance, cursor=cursor))
        assert quiet.run_requests == []

        # A late file lands in an old day: exactly that day is reloaded.
        time.sleep(0.01)
        _drop(landing, "crm/tickets/2026-03-01/late.csv", "Ticket ID\n")
        late = landing_sensor(build_sensor_context(instance=instance, cursor=quiet.cursor))
        assert [(r.job_name, r.partition_key) for r in late.run_requests] == [
            ("ingest_daily", "2026-03-01")
        ]
        assert (
            json.loads(late.cursor)["crm_tickets"]["2026-03-01"]
            != json.loads(cursor)["crm_tickets"]["2026-03-01"]
        )


def test_sensor_survives_folders_that_are_no_delivery_day(landing):
    """2026-12-32 once crashed every evaluation with a ValueError naming no path."""
    future = (date.today() + timedelta(days=120)).isoformat()
    for folder in ("2026-03-01", "2026-12-32", "2026-3-2", future, "archive"):
        _drop(landing, f"crm/tickets/{folder}/t.csv", "Ticket ID\n")
    _drop(landing, "crm/tickets/stray.csv", "Ticket ID\n")
    with DagsterInstance.ephemeral() as instance:
        result = landing_sensor(build_sensor_context(instance=instance))
    assert [(r.job_name, r.partition_key) for r in result.run_requests] == [
        ("ingest_daily", "2026-03-01")
    ]
    assert list(json.loads(result.cursor)["crm_tickets"]) == ["2026-03-01"]


def test_sensor_reloads_a_day_when_its_next_intraday_cut_lands(landing):
    """Shop exports land through the day (orders-<day>-1100.jsonl, then -1200, ...): each
    new cut changes the day's files, so the day is loaded again, whole (the loader replaces
    exactly that day), and only that day."""
    for day in ("2026-03-01", "2026-03-02"):
        _drop(landing, f"shop/orders/{day}/orders-{day}-1100.jsonl", "{}\n")
    with DagsterInstance.ephemeral() as instance:
        first = landing_sensor(build_sensor_context(instance=instance))
        assert len(first.run_requests) == 1  # both days, one range
        time.sleep(0.01)
        _drop(landing, "shop/orders/2026-03-02/orders-2026-03-02-1200.jsonl", "{}\n")
        later = landing_sensor(build_sensor_context(instance=instance, cursor=first.cursor))
        assert [(r.job_name, r.partition_key) for r in later.run_requests] == [
            ("ingest_daily", "2026-03-02")
        ]
        assert later.run_requests[0].asset_selection[0].to_user_string() == "raw/shop_orders"
