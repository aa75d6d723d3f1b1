"""The code location loads, and its wiring is what the README says."""

from pathlib import Path

import yaml
from dagster import AssetKey, BackfillPolicy, DagsterInstance

from dagster_project.definitions import defs
from dagster_project.ingest.specs import ALL_SPECS

REPO = Path(__file__).resolve().parents[2]


def test_definitions_load_with_every_ingest_asset():
    repo = defs.get_repository_def()
    keys = repo.asset_graph.get_all_asset_keys()
    for spec in ALL_SPECS:
        assert AssetKey(["raw", spec.entity]) in keys
    assert AssetKey("analytics_snapshot") in keys
    assert AssetKey(["reports", "campaign_performance"]) in keys
    assert {j.name for j in repo.get_all_jobs()} >= {
        "ingest_daily",
        "ingest_reference",
        "publish_snapshot",
        "refresh_marts",
        "plan_campaigns",
        "dispatch",
        "ingest_sms_events",
    }
    assert {s.name for s in repo.schedule_defs} == {
        "ingest_daily_morning",
        "ingest_reference_daily",
        "plan_daily",
        "dispatch_hourly",
    }
    assert {s.name for s in repo.sensor_defs} == {
        "landing_sensor",
        "marts_after_load",
        "publish_after_load",
        "sms_events_sensor",
    }


def test_activation_has_a_gated_plan_per_campaign_and_schedules_start_stopped():
    from dagster import AssetCheckKey, DefaultScheduleStatus

    from dagster_project.activation.assets import campaigns

    repo = defs.get_repository_def()
    graph = repo.asset_graph
    ids = [c.id for c in campaigns()]
    assert len(ids) == 4
    for i, campaign_id in enumerate(ids):
        key = AssetKey(["activation", "plan", campaign_id])
        gate = AssetCheckKey(key, "sms_audience")
        assert gate in graph.asset_check_keys and graph.get_check_spec(gate).blocking
        if i:  # planned after the next higher-priority campaign
            assert AssetKey(["activation", "plan", ids[i - 1]]) in graph.get(key).parent_keys
    dispatch = AssetKey(["activation", "dispatch"])
    assert {AssetKey(["activation", "plan", c]) for c in ids} <= graph.get(dispatch).parent_keys
    for name in ("plan_daily", "dispatch_hourly"):
        assert repo.get_schedule_def(name).default_status == DefaultScheduleStatus.STOPPED


def test_every_dispatch_loads_the_outcome_events_first():
    from dagster import DefaultSensorStatus

    repo = defs.get_repository_def()
    events = AssetKey(["raw", "sms_events"])
    dispatch = AssetKey(["activation", "dispatch"])
    assert events in repo.asset_graph.get(dispatch).parent_keys
    job = repo.get_job("dispatch")
    assert {events, dispatch} <= set(job.asset_layer.selected_asset_keys)
    assert repo.get_sensor_def("sms_events_sensor").default_status == DefaultSensorStatus.RUNNING
    # The consent views read the events: raw.sms_events is a dbt source on the same key.
    assert events in repo.asset_graph.get(AssetKey(["staging", "stg_sms__events"])).parent_keys


def test_daily_assets_backfill_in_one_run_and_share_the_warehouse_pool():
    repo = defs.get_repository_def()
    for spec in ALL_SPECS:
        node = repo.asset_graph.get(AssetKey(["raw", spec.entity]))
        assert node.group_name == "ingest"
        assert node.pools == {"warehouse"}
        if spec.partitioned:
            assert node.backfill_policy == BackfillPolicy.single_run()
            assert node.partitions_def is not None
        else:
            assert node.partitions_def is None


def test_pos_depends_on_stores_for_till_regions():
    repo = defs.get_repository_def()
    parents = repo.asset_graph.get(AssetKey(["raw", "pos_transactions"])).parent_keys
    assert AssetKey(["raw", "pos_stores"]) in parents


def test_instance_config_serializes_runs_and_disables_telemetry(tmp_path):
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    assert config["telemetry"]["enabled"] is False
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 1
    assert config["concurrency"]["pools"]["default_limit"] == 1
    # The file is a valid instance config for the installed Dagster.
    (tmp_path / "dagster.yaml").write_text((REPO / "dagster.yaml").read_text())
    with DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.run_coordinator is not None


def test_telemetry_switches_are_set_on_import():
    import os

    import dagster_project  # noqa: F401

    assert os.environ["DO_NOT_TRACK"] == "1"
    assert os.environ["GX_ANALYTICS_ENABLED"] == "False"
    assert os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "False"
