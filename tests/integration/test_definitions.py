"""The code location loads, and its wiring is what the README says."""

from pathlib import Path

import yaml
from dagster import (
    AssetKey,
    BackfillPolicy,
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    SkipReason,
    build_run_status_sensor_context,
)

from dagster_project.definitions import defs
from dagster_project.ingest.jobs import ingest_reference_daily
from dagster_project.ingest.specs import ALL_SPECS
from dagster_project.transform import SCHEDULE_TAG, marts_after_load

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
        "advance_journeys",
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
        "journeys_sensor",
        "journeys_then_dispatch",
    }


def test_activation_has_a_gated_plan_per_campaign_and_schedules_start_stopped():
    from dagster import AssetCheckKey, DefaultScheduleStatus

    from dagster_project.activation.resources import read_book
    from dagster_project.settings import campaigns_dir

    repo = defs.get_repository_def()
    graph = repo.asset_graph
    ids = [c.id for c in read_book(campaigns_dir()).campaigns]
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


def _path_exists(graph, start: AssetKey, end: AssetKey) -> bool:
    seen, frontier = set(), {start}
    while frontier:
        if end in frontier:
            return True
        seen |= frontier
        frontier = set().union(*(graph.get(k).child_keys for k in frontier)) - seen
    return False


def test_the_lineage_runs_from_landing_through_plans_and_the_ledger_into_attribution():
    graph = defs.get_repository_def().asset_graph
    graph.toposorted_asset_keys  # noqa: B018 - raises on a cycle
    dispatch, ledger, links = (
        AssetKey(["activation", "dispatch"]),
        AssetKey(["sms", "ledger"]),
        AssetKey(["sms", "links"]),
    )
    # Built by the dispatch (no placeholder), read by dbt, on to the report.
    for store in (ledger, links):
        node = graph.get(store)
        assert node.is_materializable and node.parent_keys == {dispatch}
        assert node.group_name == "activation"
    assert ledger in graph.get(AssetKey(["staging", "stg_sms__ledger"])).parent_keys
    assert links in graph.get(AssetKey(["staging", "stg_sms__links"])).parent_keys
    hops = [
        AssetKey(["raw", "shop_orders"]),
        AssetKey(["marts", "dim_customer_segments"]),
        AssetKey(["activation", "plan", "winback-lapsed"]),
        dispatch,
        ledger,
        AssetKey(["marts", "mart_campaign_performance"]),
        AssetKey(["reports", "campaign_performance"]),
    ]
    for a, b in zip(hops, hops[1:], strict=False):
        assert _path_exists(graph, a, b), (a, b)


def test_only_the_declared_feedback_edges_are_cut():
    """The asset graph is dbt's graph less exactly the refs a model names in
    ``meta.feedback_from`` (earlier sends' outcomes read by the targeting marts)."""
    import json

    from dagster_project.transform import dbt_project, feedback_refs

    manifest = json.loads(dbt_project.manifest_path.read_text())
    graph = defs.get_repository_def().asset_graph
    cut, declared = set(), set()
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model":
            continue
        key = AssetKey([node["config"]["schema"], node["name"]])
        parents = {
            manifest["nodes"][p]["name"]
            for p in node["depends_on"]["nodes"]
            if p.startswith("model.")
        }
        in_graph = {k.path[-1] for k in graph.get(key).parent_keys}
        cut |= {(node["name"], p) for p in parents - in_graph}
        declared |= {(node["name"], p) for p in feedback_refs(node)}
        assert set(feedback_refs(node)) <= parents, node["name"]  # names real refs
    assert (
        cut
        == declared
        == {
            ("dim_customer_segments", "fct_sms_clicks"),
            ("fct_customer_events", "fct_sms_clicks"),
            ("fct_customer_events", "fct_sms_replies"),
            ("fct_customer_events", "int_sms__messages"),
            ("dim_sms_suppression", "int_sms__message_status"),
            ("dim_sms_suppression", "int_sms__status_events"),
            ("dim_sms_suppression", "stg_sms__ledger"),
        }
    )


def test_every_asset_has_a_group_and_the_publish_step_a_readable_dependency():
    graph = defs.get_repository_def().asset_graph
    for key in graph.get_all_asset_keys():
        assert graph.get(key).group_name not in (None, "default"), key
    parents = graph.get(AssetKey("analytics_snapshot")).parent_keys
    assert len(parents) <= 10
    # ... and still after everything: every raw table and mart is upstream of it.
    for key in (AssetKey(["raw", "shop_orders"]), AssetKey(["marts", "dim_customers"])):
        assert key in graph.get_ancestor_asset_keys(AssetKey("analytics_snapshot"))


def test_marts_after_load_skips_the_scheduled_reference_run_and_requests_one_build_otherwise():
    with DagsterInstance.ephemeral() as instance:
        runs = {
            "scheduled": instance.create_run_for_job(
                defs.resolve_job_def("ingest_reference"),
                tags={SCHEDULE_TAG: ingest_reference_daily.name},
            ),
            "by hand": instance.create_run_for_job(defs.resolve_job_def("ingest_reference")),
            "daily": instance.create_run_for_job(
                defs.resolve_job_def("ingest_daily"),
                tags={SCHEDULE_TAG: ingest_reference_daily.name},
            ),
        }
        answers = {}
        for name, run in runs.items():
            context = build_run_status_sensor_context(
                sensor_name=marts_after_load.name,
                dagster_event=DagsterEvent(
                    event_type_value=DagsterEventType.RUN_SUCCESS.value, job_name=run.job_name
                ),
                dagster_instance=instance,
                dagster_run=run,
            )
            answers[name] = marts_after_load(context)
    assert isinstance(answers["scheduled"], SkipReason)
    for name in ("by hand", "daily"):
        assert answers[name].run_key == runs[name].run_id
        assert answers[name].tags["reason"].endswith("succeeded")
