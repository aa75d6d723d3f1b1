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

from dagster_project import activation, ingest, publish, quality, reporting, transform
from dagster_project.warehouse import WarehouseResource


def build(campaigns_dir: Path | None = None) -> Definitions:
    """The code location, with the campaign files of ``campaigns_dir`` (default: settings)."""
    return Definitions.merge(
        ingest.defs,
        transform.defs,
        quality.defs,
        activation.build_defs(campaigns_dir) if campaigns_dir else activation.defs,
        publish.defs,
        reporting.defs,
        Definitions(
            resources={"warehouse": WarehouseResource()},
            executor=in_process_executor,
        ),
    )


defs = build()


def materialize_selection(
    selection, *, code_location: Definitions | None = None, resources=None, **kwargs
) -> ExecuteInProcessResult:
    """Materialize ``selection`` of the code location in this process.

    Every asset and check is handed over, so the run's asset graph is the whole
    graph (the cross-run gates judge every blocking check upstream); ``resources``
    replace the code location's by key (a test's gateway, say).
    """
    location = code_location or defs
    return materialize(
        [*location.assets, *(location.asset_checks or [])],
        selection=selection,
        resources={**location.resources, **(resources or {})},
        **kwargs,
    )
