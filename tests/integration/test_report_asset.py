"""The report asset and ``write_report``: read the mart, write the file atomically, say where.

The dbt model ``mart_campaign_performance`` is built elsewhere; here the table is
created by hand with the model's columns, in a small DuckDB file.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import duckdb
import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance
from support.report_frames import create_mart, frame, three_campaigns

from dagster_project.definitions import materialize_selection
from dagster_project.reporting.assets import MART_KEY, REPORT_KEY
from dagster_project.reporting.report import MissingMartError, write_report
from dagster_project.warehouse import WarehouseResource

NOW = dt.datetime(2026, 2, 21, 23, 30, tzinfo=dt.UTC)
HOLD_READ_ONLY = (
    "import duckdb, sys\n"
    "conn = duckdb.connect(sys.argv[1], read_only=True)\n"
    "print('open', flush=True)\n"
    "sys.stdin.read()\n"
)


def test_write_report_from_a_connection_writes_the_report_and_a_dated_copy(tmp_path):
    with duckdb.connect() as conn:
        create_mart(conn, three_campaigns())
        path = write_report(conn, tmp_path / "reports", now=NOW)
    assert path == tmp_path / "reports" / "campaign_performance.html"
    dated = tmp_path / "reports" / "campaign_performance-2026-02-21.html"
    assert dated.read_text() == path.read_text()
    text = path.read_text()
    assert "winback-lapsed</a>: more buyers and more revenue than the holdout: +4.1 pts" in text
    # The window the dbt project sets (vars.attribution_days_after_delivery: 5), not a guess.
    assert "290 of 4,800 treated recipients bought within 5 days (6.0%)" in text
    assert "$15,400" in path.read_text()  # DECIMAL revenue read as a number
    # Written beside and renamed: no temporary file stays behind.
    assert sorted(p.name for p in path.parent.iterdir()) == [dated.name, path.name]
    # A second run replaces both, a frame works as well as a connection.
    write_report(frame(), tmp_path / "reports", now=NOW)
    assert "No campaign results yet" in path.read_text() and "No campaign" in dated.read_text()


def test_a_missing_mart_is_named(tmp_path):
    with (
        duckdb.connect() as conn,
        pytest.raises(MissingMartError, match="mart_campaign_performance"),
    ):
        write_report(conn, tmp_path)
    assert not list(tmp_path.iterdir())


def test_the_asset_materializes_from_a_read_only_warehouse(tmp_path, monkeypatch):
    monkeypatch.setenv("SMS_DATA_DIR", str(tmp_path))
    db = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(db)) as conn:
        create_mart(conn, three_campaigns())
    # Another process holds the file read-only meanwhile (an analyst's notebook): a
    # read-only reader shares it, where a read-write open would wait for the lock and fail.
    reader = subprocess.Popen(
        [sys.executable, "-c", HOLD_READ_ONLY, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "open"
        with DagsterInstance.ephemeral() as instance:
            result = materialize_selection(
                AssetSelection.assets(REPORT_KEY),
                instance=instance,
                resources={"warehouse": WarehouseResource(path=str(db), lock_timeout_s=1)},
            )
    finally:
        reader.communicate(timeout=30)
    assert result.success
    (event,) = result.get_asset_materialization_events()
    assert event.asset_key == REPORT_KEY
    metadata = {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}
    report = tmp_path / "reports" / "campaign_performance.html"
    assert metadata["report"] == str(report) and report.is_file()
    assert metadata["report_url"] == report.as_uri()
    assert (tmp_path / "reports" / metadata["dated_copy"].rsplit("/", 1)[1]).is_file()
    assert metadata["campaigns"] == 3 and metadata["rows"] == 3
    for campaign in ("winback-lapsed", "vip-thank-you", "newcomer-offer"):
        assert campaign in metadata["preview"]
    assert "inconclusive" in report.read_text()
    json.dumps(metadata)  # plain values all the way down


def test_the_asset_fails_naming_the_missing_mart(tmp_path, monkeypatch):
    monkeypatch.setenv("SMS_DATA_DIR", str(tmp_path))
    db = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(db)).close()
    with DagsterInstance.ephemeral() as instance:
        result = materialize_selection(
            AssetSelection.assets(REPORT_KEY),
            instance=instance,
            resources={"warehouse": WarehouseResource(path=str(db), lock_timeout_s=5)},
            raise_on_error=False,
        )
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert "marts.mart_campaign_performance does not exist yet" in str(failure.event_specific_data)
    assert not (tmp_path / "reports").exists()


def test_the_report_hangs_off_the_key_dagster_dbt_gives_the_mart():
    from dagster_project.definitions import defs
    from dagster_project.transform import dbt_project, translator

    node = defs.resolve_asset_graph().get(REPORT_KEY)
    assert node.group_name == "reports" and node.pools == {"warehouse"}
    assert node.parent_keys == {MART_KEY}
    # Every model in models/marts/ is keyed marts/<name> by the project's translator,
    # so the dbt model keeps the key the report depends on when it lands.
    manifest = json.loads(dbt_project.manifest_path.read_text())
    marts = [
        n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["fqn"][1:2] == ["marts"]
    ]
    assert marts
    for props in marts:
        assert translator.get_asset_key(props) == AssetKey(["marts", props["name"]])
    assert AssetKey(["marts", "mart_campaign_performance"]) == MART_KEY
