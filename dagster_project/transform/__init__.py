"""Transform: the dbt project in ``dbt/`` as Dagster assets.

One ``DbtProject``; one translator that maps dbt sources onto the ingest
assets' keys (``raw/<table>``), so the asset graph is one lineage from landing
files to marts, and puts each model in the group of its folder (staging,
intermediate, marts). dbt tests show up as asset checks. ``dbt build`` runs in
the warehouse pool and under the warehouse's writer lock: dbt opens the DuckDB
file itself, so nothing else may hold it meanwhile; the build waits (saying whom
for) instead of failing at once. After it, the newest purchase is compared with
the day the marts describe (``freshness``).
"""

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from uuid import uuid4

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    AssetSelection,
    Config,
    DagsterRunStatus,
    DefaultSensorStatus,
    Definitions,
    RunRequest,
    RunStatusSensorContext,
    SkipReason,
    define_asset_job,
    run_status_sensor,
)
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)
from pydantic import Field

from dagster_project import settings
from dagster_project.ingest.jobs import (
    ingest_daily_job,
    ingest_reference_daily,
    ingest_reference_job,
)
from dagster_project.lib import dbt_parse_cache as parse_cache
from dagster_project.lib.dbt_unit_tests import code_fingerprint, record_unit_tests, unit_test_args
from dagster_project.quality.gates import require_passing_gates
from dagster_project.transform.freshness import read_freshness
from dagster_project.warehouse import (
    RUN_LOCK_TIMEOUT_S,
    WAREHOUSE_POOL,
    connection,
    wait_until_free,
    warehouse_lock,
)

DBT_DIR = settings.REPO_ROOT / "dbt"
# The dbt installed beside this interpreter, so nothing depends on PATH (a venv
# used without activating it, a service manager's bare environment).
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))

dbt_project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, dbt_executable=DBT_EXECUTABLE)


def parse_project(dbt_vars: Mapping[str, Any] | None = None) -> None:
    """Write ``dbt/target/manifest.json`` with the venv's dbt (``dbt parse``).

    Its ``partial_parse.msgpack`` is what every dbt invocation of a Dagster run starts
    from (dagster-dbt copies it): dbt reuses it only when the profile (the warehouse path
    among it) and ``dbt_vars`` are the invocation's, and parses the whole project again
    otherwise (seconds per invocation).
    """
    command = [
        DBT_EXECUTABLE, "parse", "--quiet",
        "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
    ]  # fmt: skip
    if dbt_vars:
        command += ["--vars", json.dumps(dict(dbt_vars))]
    with settings.exported_warehouse_path():
        subprocess.run(command, check=True)


def run_dbt(
    *args: str, warehouse: Path, work_dir: Path, as_of: str | None = None
) -> subprocess.CompletedProcess:
    """The venv's dbt on one warehouse file, outside Dagster (tests, benchmarks).

    Target and logs go to ``work_dir``, so runs on different warehouses never share
    dbt's ``target/``; a failure raises ``CalledProcessError``. A ``build`` runs the
    unit tests as the Dagster asset does (``lib.dbt_unit_tests``: not again for code that
    passed them on this warehouse, except on a full refresh).
    """
    target = work_dir / "dbt_target"
    build = bool(args) and args[0] == "build"
    fingerprint = code_fingerprint(DBT_DIR) if build else ""
    command = [
        DBT_EXECUTABLE, *args, "--quiet",
        "--project-dir", str(DBT_DIR), "--profiles-dir", str(DBT_DIR),
        "--target-path", str(target), "--log-path", str(work_dir / "dbt_logs"),
    ]  # fmt: skip
    if build:
        command += unit_test_args(warehouse, fingerprint, "--full-refresh" in args)
    if as_of:
        command += ["--vars", json.dumps({"as_of": as_of})]
    env = {**os.environ, "SMS_WAREHOUSE_PATH": str(warehouse)}
    done = subprocess.run(command, env=env, check=True)
    if build:
        record_unit_tests(warehouse, fingerprint, target)
    return done


def manifest_is_stale() -> bool:
    """True when no manifest exists or a project file changed after it was written."""
    manifest = dbt_project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    skip = {DBT_DIR / "target", DBT_DIR / "logs", DBT_DIR / "dbt_packages"}
    for folder, dirs, files in os.walk(DBT_DIR):
        dirs[:] = [d for d in dirs if Path(folder) / d not in skip]
        if any(Path(folder, f).stat().st_mtime > built for f in files):
            return True
    return False


# What DbtProject.prepare_if_dev does, without relying on PATH and also outside
# `dagster dev`: a fresh clone, or an edited model, gets a new manifest on import.
if manifest_is_stale():
    parse_project()


class SmsDbtTranslator(DagsterDbtTranslator):
    """dbt sources are the assets that write them; models are grouped by their folder.

    Source ``raw`` is the ingest assets (``raw/<table>``). Source ``sms`` is the send
    ledger and its links (``sms/<table>``), written by the dispatch, so the lineage runs
    from the marts through plans and dispatch into the ledger and on to attribution.

    That loop closes: suppression reads earlier sends' failures, a segment reads their
    clicks, and plans read both. Dagster's asset graph must stay acyclic, so a model
    names the refs it reads as feedback from earlier sends (``meta.feedback_from`` in its
    yml) and those edges are left out of the asset graph; dbt still orders them itself,
    and ``tests`` check that exactly these edges are cut.
    """

    def get_asset_spec(self, manifest, unique_id, project):
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        feedback = set(feedback_refs(props))
        if not feedback:
            return spec
        cut = {
            super(SmsDbtTranslator, self).get_asset_spec(manifest, parent, project).key
            for parent in props.get("depends_on", {}).get("nodes", [])
            if manifest["nodes"].get(parent, {}).get("name") in feedback
        }
        return spec.replace_attributes(deps=[d for d in spec.deps if d.asset_key not in cut])

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        return super().get_asset_key(dbt_resource_props)

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        kind = dbt_resource_props["resource_type"]
        if kind == "model" and len(fqn) > 2:
            return fqn[1]  # models/<staging|intermediate|marts>/...
        if kind == "seed":
            return "seeds"
        if kind == "snapshot":
            return "marts"
        return super().get_group_name(dbt_resource_props)


def feedback_refs(props: Mapping[str, Any]) -> list[str]:
    """The refs a dbt model reads as feedback from earlier sends (``meta.feedback_from``)."""
    meta = {**(props.get("config", {}).get("meta") or {}), **(props.get("meta") or {})}
    return list(meta.get("feedback_from") or [])


class DbtBuildConfig(Config):
    """Run configuration of the dbt build (the launchpad shows it)."""

    as_of: str | None = Field(
        default=None,
        description="Day the customer marts describe, YYYY-MM-DD (default: today; the exact "
        "boundary is the dbt var as_of in dbt/dbt_project.yml). Give the last day a loaded "
        "history covers, or every customer looks lapsed.",
    )
    stale_after_days: int | None = Field(
        default=None,
        description="Warn when the newest purchase lies more days than this before the as-of "
        "day (default: SMS_STALE_AFTER_DAYS, 30).",
    )


# The mart whose metadata carries the as-of day and the stale-data warning.
LIFECYCLE_KEY = AssetKey(["marts", "dim_customer_lifecycle"])


translator = SmsDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    pool=WAREHOUSE_POOL,
)
def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource, config: DbtBuildConfig):
    """`dbt build`: models, seeds, snapshots and their tests, streamed as they finish."""
    require_passing_gates(context)  # a raw gate that failed in the load's run stops us here
    args = ["build"]
    if config.as_of:
        args += ["--vars", json.dumps({"as_of": config.as_of})]
    warehouse = settings.warehouse_path()
    say = context.log.warning
    what = f"dbt build in Dagster run {context.run.run_id}"
    fingerprint = code_fingerprint(DBT_DIR)
    with warehouse_lock(warehouse, timeout_s=RUN_LOCK_TIMEOUT_S, what=what, say=say):
        wait_until_free(warehouse, say=say)  # a notebook holding the file read-write
        # the unit tests pin code, not data: once per version of the code (lib/dbt_unit_tests.py)
        args += unit_test_args(warehouse, fingerprint, full_refresh=False)
        # named as dagster-dbt names it; started from this warehouse's last parse
        # (lib/dbt_parse_cache), so dbt parses only what changed since
        op_name = context.op_execution_context.op.name
        target = DBT_DIR / "target" / f"{op_name}-{context.run.run_id[:7]}-{uuid4().hex[:7]}"
        parse_cache.prime(warehouse, target)
        with settings.exported_warehouse_path():
            invocation = dbt.cli(args, context=context, target_path=target)
            yield from invocation.stream()
        parse_cache.keep(warehouse, target)
        record_unit_tests(warehouse, fingerprint, target)
        if LIFECYCLE_KEY not in context.selected_asset_keys:
            return
        with connection(warehouse, read_only=True, say=say) as conn:
            as_of = dt.date.fromisoformat(config.as_of) if config.as_of else None
            freshness = read_freshness(conn, as_of, config.stale_after_days)
    if freshness is None:
        return
    if freshness.warning():
        context.log.warning(f"stale data: {freshness.warning()}")
    yield AssetObservation(asset_key=LIFECYCLE_KEY, metadata=freshness.metadata())


def final_models() -> list[AssetKey]:
    """The dbt nodes nothing else in the project reads: when they are built, all is."""
    keys = set(dbt_models.keys)
    read = set().union(*(dbt_models.asset_deps[k] for k in keys))
    return sorted(keys - read, key=lambda k: k.to_user_string())


refresh_marts_job = define_asset_job(
    "refresh_marts",
    selection=AssetSelection.assets(dbt_models),
    description="dbt build: staging, identity, marts and their tests.",
)


SCHEDULE_TAG = "dagster/schedule_name"


def build_after(job_name: str, tags: Mapping[str, str]) -> str | None:
    """Why a successful load should start ``dbt build``, or None. Pure, for the tests.

    Every load rebuilds the models, except the morning's scheduled reference reload: the
    daily load follows it ten minutes later and its build reads both, so building after
    each would build the whole project twice every morning. A reference reload started
    by hand (or by any other schedule) still builds.
    """
    scheduled = tags.get(SCHEDULE_TAG) == ingest_reference_daily.name
    if job_name == ingest_reference_job.name and scheduled:
        return None
    return f"{job_name} succeeded"


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[ingest_daily_job, ingest_reference_job],
    request_job=refresh_marts_job,
    default_status=DefaultSensorStatus.RUNNING,
    description="Rebuild the models after every successful load (the scheduled reference "
    "reload at 05:50 excepted: the daily load after it builds).",
)
def marts_after_load(context: RunStatusSensorContext):
    run = context.dagster_run
    why = build_after(run.job_name, run.tags)
    if why is None:
        return SkipReason(f"run {run.run_id}: the scheduled daily load builds after it")
    return RunRequest(run_key=run.run_id, tags={"reason": why})


defs = Definitions(
    assets=[dbt_models],
    jobs=[refresh_marts_job],
    sensors=[marts_after_load],
    resources={"dbt": dbt_resource()},
)
