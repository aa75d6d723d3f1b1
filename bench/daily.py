"""The ``daily_e2e`` phase: one whole morning of a user's schedule, as one figure.

On a copy of the built warehouse and a fresh SQLite Dagster instance (as ``DAGSTER_HOME``
gives a deployment by default), the jobs of ``dagster_project.definitions.defs`` run in the
schedule's order, at a fixed clock on ``DAY``, the morning after the bench's data ends:

1. ``ingest_reference`` (05:50 schedule): stores and catalog;
2. ``ingest_daily`` (06:00 schedule): yesterday and today in one range run (``END`` is
   delivered again, its rows get a new ``_loaded_at``; today has no file yet), with the raw
   gates and volume checks attached to the raw assets;
3. ``refresh_marts`` (sensor ``marts_after_load``): ``dbt build`` of every dbt asset, with
   the mart GX gates; ``as_of`` is ``DAY``, the day a production build takes (today);
4. ``publish_snapshot`` (sensor ``publish_after_load``): the analysts' copy;
5. ``plan_campaigns`` (07:00 schedule ``plan_daily``): ``DAY``'s partition, every campaign's
   plan and its compliance gate, planned at 07:00;
6. ``advance_journeys`` at 07:05: outcome events, consent files, the event stream's dbt
   models, the advance of every journey and its gates.

Before the clock, as a deployment's code location does when it loads, the dbt project is
parsed (``dbt parse``) with the copy's profile and the morning's ``as_of``, so each dbt
invocation starts from that parse (dagster-dbt copies its ``partial_parse.msgpack``).

Each job's wall time is taken around it; the steps' times come from the instance's event
log (``STEP_START`` to ``STEP_SUCCESS``/``STEP_FAILURE``). A failed run, step or gate
raises, naming what failed.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from datetime import date, timedelta
from pathlib import Path

# The schedule's clock on DAY (UTC): the jobs' cron hours, the journeys a little after.
PLAN_AT = "07:00:00"
ADVANCE_AT = "07:05:00"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
INSTANCE_YAML = "telemetry:\n  enabled: false\n"


def step_seconds(records: Iterable[tuple[str | None, str, float]]) -> dict[str, float]:
    """Seconds per step key from ``(step_key, event_type, timestamp)`` event-log records:
    from its ``STEP_START`` to its ``STEP_SUCCESS`` or ``STEP_FAILURE``. A step that never
    ended (or never started) is left out."""
    started: dict[str, float] = {}
    ended: dict[str, float] = {}
    for key, kind, at in records:
        if key is None:
            continue
        if kind == "STEP_START":
            started.setdefault(key, at)
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            ended[key] = at
    return {k: round(ended[k] - started[k], 3) for k in started if k in ended}


def failures(evaluations: Iterable[tuple[str, bool, str]]) -> list[str]:
    """The failed blocking verdicts among ``(name, passed, severity)``: a failed ``ERROR``
    check is a failed gate; a failed ``WARN`` check is a signal and stops nothing."""
    return sorted(
        name for name, passed, severity in evaluations if not passed and severity == "ERROR"
    )


def share(parts: dict[str, float], total: float) -> dict[str, float]:
    """What is left of ``total`` after ``parts``: Dagster's own time (run start, event log,
    resources) between and around the steps."""
    return {
        "in_steps": round(sum(parts.values()), 3),
        "outside_steps": round(total - sum(parts.values()), 3),
    }


def _prepare(base: Path) -> Path:
    """A fresh copy of the built warehouse and an empty Dagster home; returns the copy's dir."""
    scratch = base / "daily"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    # The stamp of the dbt code whose unit tests passed on this warehouse goes along: a
    # deployment's warehouse keeps it, so its daily build leaves the unit tests out.
    for suffix in ("", ".wal", ".unit-tested"):
        source = Path(str(base / "warehouse.duckdb") + suffix)
        if source.exists():
            shutil.copy(source, scratch / source.name)
    home = scratch / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(INSTANCE_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["SMS_DATA_DIR"] = str(scratch)  # Data Docs, published copy, webhooks, gateway
    os.environ["SMS_LANDING_DIR"] = str(base / "landing")  # read only
    os.environ["SMS_WAREHOUSE_PATH"] = str(scratch / "warehouse.duckdb")
    os.environ.setdefault("SMS_PARTITION_START", "2020-01-01")
    return scratch


def _require_built(warehouse: Path) -> None:
    from dagster_project.warehouse import connection

    with connection(warehouse, read_only=True) as conn:
        built = conn.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'marts' AND table_name = 'dim_customers'"
        ).fetchone()[0]
    if not built:
        raise SystemExit(
            f"daily_e2e: {warehouse} holds no marts (marts.dim_customers): run the dbt_full "
            "phase on this data first"
        )


def _op_names(job, prefix: list[str]) -> list[str]:
    """The ops of ``job`` that materialize assets under ``prefix`` (they take the clock)."""
    from dagster_project.definitions import defs

    graph = defs.resolve_asset_graph()
    names = set()
    for key in job.asset_layer.asset_graph.executable_asset_keys:
        if list(key.path[: len(prefix)]) == prefix:
            names.add(graph.get(key).assets_def.op.name)
    return sorted(names)


def run_day(base: Path, end: date) -> dict:
    """Run and time the morning of ``end + 1`` (see the module docstring)."""
    scratch = _prepare(base)
    _require_built(scratch / "warehouse.duckdb")
    # Outside the total: a deployment's daemon holds the code location already (but its
    # default run launcher loads it again in every run's own process: reported beside).
    t = time.perf_counter()
    import dagster_project.definitions  # noqa: F401

    load_seconds = time.perf_counter() - t
    from dagster import DagsterEventType, DagsterInstance

    from dagster_project.activation.assets import PLAN_GATES, PLAN_PREFIX
    from dagster_project.definitions import defs
    from dagster_project.ingest.jobs import RANGE_END_TAG, RANGE_START_TAG
    from dagster_project.quality import mart_checks, raw_checks
    from dagster_project.transform import dbt_models, parse_project

    day = end + timedelta(days=1)
    # Also outside: a deployment's code location parses the dbt project when it loads, with
    # its own profile, and its runs pass no vars, so each dbt invocation starts from that
    # parse (partial parsing). Here the runs pass the morning's as_of and the profile names
    # the copy: the project is parsed with both, or every invocation would parse it whole.
    t = time.perf_counter()
    parse_project({"as_of": day.isoformat()})
    parse_seconds = time.perf_counter() - t
    # Every GX suite is an asset check of its own step: raw and mart gates, each plan's and
    # the journeys' compliance gates.
    gx_ops = {c.op.name for c in defs.asset_checks or []}
    # The gates: the GX suites on raw data and marts, each plan's and the journeys' compliance
    # suites, the journey files' check (dbt's tests and the load's own checks are counted apart).
    gate_names = {s.name for c in [*raw_checks, *mart_checks] for s in c.check_specs}
    gate_names |= {*PLAN_GATES.values(), "journey_files"}
    plan_job = defs.resolve_job_def("plan_campaigns")
    plan_ops = {
        op: {"config": {"now": f"{day}T{PLAN_AT}+00:00"}} for op in _op_names(plan_job, PLAN_PREFIX)
    }
    advance_now = f"{day}T{ADVANCE_AT}+00:00"
    schedule = [
        ("reference_ingest", "ingest_reference", {}, {}),
        (
            "daily_ingest",
            "ingest_daily",
            {"tags": {RANGE_START_TAG: end.isoformat(), RANGE_END_TAG: day.isoformat()}},
            # The volume checks judge the last complete day by the real clock (today is still
            # landing); on DAY that is ``end``, which is what they are told here.
            {"raw_daily_volume": {"config": {"start": end.isoformat()}}},
        ),
        (
            "dbt_build",
            "refresh_marts",
            {},
            {dbt_models.op.name: {"config": {"as_of": day.isoformat()}}},
        ),
        ("publish", "publish_snapshot", {}, {}),
        ("plans", "plan_campaigns", {"partition_key": day.isoformat()}, plan_ops),
        (
            "journeys",
            "advance_journeys",
            {},
            {
                "activation__journeys": {"config": {"now": advance_now}},
                "ingest__crm_consent_catch_up": {"config": {"now": advance_now}},
                dbt_models.op.name: {"config": {"as_of": day.isoformat()}},
            },
        ),
    ]
    kinds = {
        DagsterEventType.STEP_START,
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.STEP_FAILURE,
    }
    jobs: dict[str, dict] = {}
    results = {}
    with DagsterInstance.get() as instance:
        t0 = time.perf_counter()
        for part, name, kwargs, ops in schedule:
            t = time.perf_counter()
            result = defs.resolve_job_def(name).execute_in_process(
                instance=instance,
                run_config={**QUIET, **({"ops": ops} if ops else {})},
                raise_on_error=False,
                **kwargs,
            )
            seconds = time.perf_counter() - t
            records = instance.all_logs(result.run_id, of_type=kinds)
            steps = step_seconds(
                (r.step_key, r.dagster_event.event_type_value, r.timestamp) for r in records
            )
            evaluations = result.get_asset_check_evaluations()
            failed_gates = failures(
                (
                    f"{e.asset_key.to_user_string()}:{e.check_name}",
                    e.passed,
                    e.severity.value,
                )
                for e in evaluations
            )
            failed_steps = [
                e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE"
            ]
            if not result.success or failed_gates or failed_steps:
                raise SystemExit(
                    f"daily_e2e: job {name} (run {result.run_id}) failed after {seconds:.1f} s: "
                    f"failed steps {failed_steps or 'none'}, failed gates {failed_gates or 'none'}"
                    f" (Dagster home {os.environ['DAGSTER_HOME']})"
                )
            jobs[part] = {
                "job": name,
                "seconds": round(seconds, 3),
                "steps": steps,
                "gx_gate_seconds": round(sum(s for k, s in steps.items() if k in gx_ops), 3),
                **share(steps, seconds),
                "checks": len(evaluations),
                "checks_passed": sum(e.passed for e in evaluations),
                "signals_failed": sorted(
                    f"{e.asset_key.to_user_string()}:{e.check_name}"
                    for e in evaluations
                    if not e.passed
                ),
            }
            results[part] = result
        total = time.perf_counter() - t0
    return {
        "seconds": total,
        "day": day.isoformat(),
        "dbt_parse_seconds": round(parse_seconds, 3),
        "code_location_load_seconds": round(load_seconds, 3),
        "parts": jobs,
        # Across the parts: the dbt invocations, the GX gate steps, Dagster's own time.
        "dbt_step_seconds": round(
            sum(p["steps"].get(dbt_models.op.name, 0) for p in jobs.values()), 3
        ),
        "gx_gate_seconds": round(sum(p["gx_gate_seconds"] for p in jobs.values()), 3),
        "outside_steps_seconds": round(sum(p["outside_steps"] for p in jobs.values()), 3),
        **_counts(results, gate_names),
    }


def _metadata(result) -> dict[str, dict]:
    """Each materialization's metadata in a run, plain values, by asset key."""
    out = {}
    for m in result.get_asset_materialization_events():
        mat = m.step_materialization_data.materialization
        out[mat.asset_key.to_user_string()] = {
            k: getattr(v, "value", v) for k, v in mat.metadata.items()
        }
    return out


def _counts(results: dict, gate_names: set[str]) -> dict:
    """What proves the work was done: rows, dbt nodes, gates, plans, journeys."""
    daily = _metadata(results["daily_ingest"])
    marts = results["dbt_build"]
    dbt_checks = [e for e in marts.get_asset_check_evaluations() if e.check_name not in gate_names]
    gates = [
        e
        for result in results.values()
        for e in result.get_asset_check_evaluations()
        if e.check_name in gate_names
    ]
    plans = _metadata(results["plans"])
    journeys = _metadata(results["journeys"]).get("activation/journeys", {})
    return {
        "rows_loaded": {k: v.get("rows_loaded") for k, v in sorted(daily.items())},
        "day_rows": sum(v.get("rows_loaded") or 0 for v in daily.values()),
        "dbt_models_materialized": len(marts.get_asset_materialization_events()),
        "dbt_tests": len(dbt_checks),
        "dbt_tests_passed": sum(e.passed for e in dbt_checks),
        "gates": len(gates),
        "gates_passed": sum(e.passed for e in gates),
        "plans": {
            k.rsplit("/", 1)[-1]: {
                f: v.get(f) for f in ("candidates", "planned", "deferred", "held_out", "skipped")
            }
            for k, v in sorted(plans.items())
        },
        "recipients_planned": sum(
            (v.get("planned") or 0) + (v.get("deferred") or 0) for v in plans.values()
        ),
        "journeys": {
            f: journeys.get(f)
            for f in ("journeys", "entered", "messages_written", "messages_withdrawn_at_exit")
        },
    }
