"""The one ``Definitions`` of the code location: each domain's defs, merged.

Steps run in-process: every asset here reads or writes the one DuckDB file,
which takes a single writer, so parallel step processes would only queue on
the ``warehouse`` pool (or collide on the file lock) and pay process start-up.

Everything that runs assets outside the UI (the command line, the benchmarks,
the tests) goes through ``materialize_selection``, so there is no second list
of what the code location holds.
"""

from pathlib import Path

from dagster import Definitions, ExecuteInProcessResult, in_process_executor, materialize

from dagster_project import activation, ingest, journeys, publish, quality, reporting, transform
from dagster_project.quality import gates
from dagster_project.warehouse import WarehouseResource


def build(campaigns_dir: Path | None = None) -> Definitions:
    """The code location, with the campaign files of ``campaigns_dir`` (default: settings)."""
    return Definitions.merge(
        ingest.defs,
        transform.defs,
        quality.defs,
        activation.build_defs(campaigns_dir) if campaigns_dir else activation.defs,
        journeys.defs,
        publish.defs,
        reporting.defs,
        Definitions(
            resources={"warehouse": WarehouseResource()},
            executor=in_process_executor,
        ),
    )


defs = build()
# Runs without a repository (materialize(), a job's execute_in_process) judge the cross-run
# gates against the whole graph.
gates.use_code_location(defs.resolve_asset_graph)


def materialize_selection(
    selection, *, code_location: Definitions | None = None, resources=None, **kwargs
) -> ExecuteInProcessResult:
    """Materialize ``selection`` of the code location in this process.

    Every asset and check is handed over, and the location's graph to the cross-run
    gates (which judge every blocking check upstream); ``resources`` replace the code
    location's by key (a test's gateway, say).
    """
    location = code_location or defs
    gates.use_code_location(location.resolve_asset_graph)
    try:
        return materialize(
            [*location.assets, *(location.asset_checks or [])],
            selection=selection,
            resources={**location.resources, **(resources or {})},
            **kwargs,
        )
    finally:
        gates.use_code_location(defs.resolve_asset_graph)
