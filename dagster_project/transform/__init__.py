"""Transform: the dbt project in ``dbt/`` as Dagster assets.

One ``DbtProject``; one translator that maps dbt sources onto the ingest
assets' keys (``raw/<table>``), so the asset graph is one lineage from landing
files to marts, and puts each model in the group of its folder (staging,
intermediate, marts). dbt tests show up as asset checks. ``dbt build`` runs in
the warehouse pool: dbt opens the DuckDB file itself, so nothing else may hold
it meanwhile.
"""

from collections.abc import Mapping
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    DagsterRunStatus,
    DefaultSensorStatus,
    Definitions,
    RunRequest,
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

from dagster_project import settings
from dagster_project.ingest.jobs import ingest_daily_job, ingest_reference_job
from dagster_project.warehouse import WAREHOUSE_POOL

DBT_DIR = settings.REPO_ROOT / "dbt"

dbt_project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)
# `dagster dev` re-parses on every reload; elsewhere (tests, CLI, CI) parse once
# if no manifest exists yet, so a fresh clone needs no separate step.
dbt_project.prepare_if_dev()
if not dbt_project.manifest_path.exists():
    dbt_project.preparer.prepare(dbt_project)


class SmsDbtTranslator(DagsterDbtTranslator):
    """dbt sources are the ingest assets; models are grouped by their folder."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return AssetKey(["raw", dbt_resource_props["name"]])
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


translator = SmsDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=translator,
    pool=WAREHOUSE_POOL,
)
def dbt_models(context: AssetExecutionContext, dbt: DbtCliResource):
    """`dbt build`: models, seeds, snapshots and their tests, streamed as they finish."""
    with settings.exported_warehouse_path():
        yield from dbt.cli(["build"], context=context).stream()


refresh_marts_job = define_asset_job(
    "refresh_marts",
    selection=AssetSelection.assets(dbt_models),
    description="dbt build: staging, identity, marts and their tests.",
)


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[ingest_daily_job, ingest_reference_job],
    request_job=refresh_marts_job,
    default_status=DefaultSensorStatus.RUNNING,
    description="Rebuild the models after every successful load.",
)
def marts_after_load(context) -> RunRequest:
    return RunRequest(run_key=context.dagster_run.run_id)


defs = Definitions(
    assets=[dbt_models],
    jobs=[refresh_marts_job],
    sensors=[marts_after_load],
    resources={"dbt": DbtCliResource(project_dir=dbt_project)},
)
