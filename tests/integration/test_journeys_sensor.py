"""The journeys sensor on a real Dagster instance: it reads the last advance's metadata and
the ingest materializations, never the warehouse."""

import datetime as dt

from dagster import AssetKey, AssetMaterialization, DagsterInstance, build_sensor_context

from dagster_project.journeys.assets import JOURNEYS_KEY, journeys_sensor


def evaluate(instance):
    return journeys_sensor.evaluate_tick(build_sensor_context(instance=instance))


def test_the_sensor_follows_landings_and_due_steps():
    with DagsterInstance.ephemeral() as instance:
        first = evaluate(instance)
        assert len(first.run_requests) == 1
        assert first.run_requests[0].tags["reason"] == "no advance yet"

        later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
        instance.report_runless_asset_event(
            AssetMaterialization(JOURNEYS_KEY, metadata={"next_due_at": later.isoformat()})
        )
        quiet = evaluate(instance)
        assert quiet.run_requests == [] and "nothing landed" in quiet.skip_message

        instance.report_runless_asset_event(
            AssetMaterialization(AssetKey(["raw", "shop_checkouts"]))
        )
        landed = evaluate(instance)
        assert len(landed.run_requests) == 1
        assert landed.run_requests[0].tags["reason"].startswith("new data landed")

        past = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
        instance.report_runless_asset_event(
            AssetMaterialization(JOURNEYS_KEY, metadata={"next_due_at": past.isoformat()})
        )
        due = evaluate(instance)
        assert due.run_requests[0].tags["reason"].startswith("a step fell due")


def test_the_sensor_waits_while_an_advance_is_under_way():
    from dagster import DagsterRunStatus
    from dagster._core.test_utils import create_run_for_test

    with DagsterInstance.ephemeral() as instance:
        run = create_run_for_test(
            instance, job_name="advance_journeys", status=DagsterRunStatus.STARTED
        )
        busy = evaluate(instance)
        assert busy.run_requests == [] and run.run_id in busy.skip_message
        instance.report_run_failed(run)
        assert len(evaluate(instance).run_requests) == 1
