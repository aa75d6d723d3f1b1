"""The one ``Definitions`` of the code location: each domain's defs, merged.

Steps run in-process: every asset here reads or writes the one DuckDB file,
which takes a single writer, so parallel step processes would only queue on
the ``warehouse`` pool (or collide on the file lock) and pay process start-up.
"""

from dagster import Definitions, in_process_executor

from dagster_project import activation, ingest, publish, quality, reporting, transform
from dagster_project.quality import gates
from dagster_project.warehouse import WarehouseResource

defs = Definitions.merge(
    ingest.defs,
    transform.defs,
    quality.defs,
    activation.defs,
    publish.defs,
    reporting.defs,
    Definitions(
        resources={"warehouse": WarehouseResource()},
        executor=in_process_executor,
    ),
)

# Runs without a repository (materialize(), the CLI) judge gates against the whole graph.
gates.use_code_location(defs.resolve_asset_graph)
