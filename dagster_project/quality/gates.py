"""The cross-run half of blocking: refuse to build on a failed gate from an earlier run.

Inside one run Dagster already skips everything downstream of a failed
blocking check. Runs are split in practice (the load, then the dbt build its
sensor starts, then the publish or send; or someone clicks "Materialize" on
one asset), so an asset that must never build on bad data also asks the
instance for the latest evaluation of every blocking check upstream of it.
"""

from collections.abc import Callable, Iterable

from dagster import AssetCheckKey, AssetCheckSeverity, AssetKey, DagsterInstance, Failure
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus


def blocking_checks(asset_graph) -> set[AssetCheckKey]:
    """Every blocking check: the quality suites', and any other the graph knows.

    A run started from a job or ``materialize()`` carries only its own job's
    checks in its graph, so the suites' checks are listed from their definitions.
    """
    from dagster_project.quality.checks import mart_checks, raw_checks

    keys = {
        spec.key for c in [*raw_checks, *mart_checks] for spec in c.check_specs if spec.blocking
    }
    keys |= {k for k in asset_graph.asset_check_keys if asset_graph.get_check_spec(k).blocking}
    return keys


def failed_gates(
    instance: DagsterInstance, asset_graph, assets: Iterable[AssetKey]
) -> dict[AssetCheckKey, str]:
    """Blocking checks upstream of ``assets`` whose latest verdict is a failure.

    Upstream means on an ancestor outside ``assets`` that is not also downstream of
    them: an asset's own checks judge what it builds, so a failed mart gate never
    stops the rebuild that fixes it; and in the send-and-measure loop (marts -> plans
    -> dispatch -> ledger -> attribution marts) a plan's gate judges a later stage
    than the marts it reads, so it never stops the dbt build that a re-plan needs.
    A check that never ran, or whose latest execution is still planned, blocks
    nothing here: in a run that includes it, Dagster orders it first anyway.
    """
    keys = set(assets)
    scope = {a for k in keys for a in asset_graph.get_ancestor_asset_keys(k)} - keys
    scope -= _descendants(asset_graph, keys)
    checks = [k for k in blocking_checks(asset_graph) if k.asset_key in scope]
    if not checks:
        return {}
    latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(checks)
    failed = {}
    for key, record in latest.items():
        if record.status != AssetCheckExecutionRecordStatus.FAILED:
            continue
        evaluation = record.event.asset_check_evaluation if record.event else None
        if evaluation is not None and evaluation.severity != AssetCheckSeverity.ERROR:
            continue  # a WARN signal never blocks
        reason = ""
        if evaluation is not None:
            value = evaluation.metadata.get("reason")
            reason = getattr(value, "value", value) or evaluation.description or ""
        failed[key] = reason or "failed (see the check in the UI)"
    return failed


def _descendants(asset_graph, keys: set[AssetKey]) -> set[AssetKey]:
    found, frontier = set(), set(keys)
    while frontier:
        children = set().union(*(asset_graph.get(k).child_keys for k in frontier)) - found
        found |= children
        frontier = children
    return found


_code_location_graph: Callable[[], object] | None = None


def use_code_location(resolve_asset_graph: Callable[[], object] | None) -> None:
    """Hand in the code location's ``resolve_asset_graph`` for runs that carry no repository
    (``definitions.py`` does, and ``definitions.materialize_selection`` for the location it
    runs). Handed in, so this module never imports the code location, which imports it."""
    global _code_location_graph
    _code_location_graph = resolve_asset_graph


def _asset_graph(context):
    """The code location's whole asset graph, checks included.

    A run launched in the UI or by a schedule has its repository. A run of
    ``materialize()`` or a job's ``execute_in_process`` has none, and its job's graph
    leaves out the checks it does not run (a plan's gate, say): the code location's
    graph is handed in instead. Without either, the run's own job graph.
    """
    try:
        return context.repository_def.asset_graph
    except Exception:  # noqa: BLE001 - Dagster raises a CheckError for "no repository"
        if _code_location_graph is not None:
            return _code_location_graph()
        return context.job_def.asset_layer.asset_graph


def require_passing_gates(context, assets: Iterable[AssetKey] | None = None) -> None:
    """Raise ``Failure`` naming each failed upstream gate and its reason."""
    assets = list(assets if assets is not None else context.selected_asset_keys)
    failed = failed_gates(context.instance, _asset_graph(context), assets)
    if not failed:
        return
    lines = [
        f"{k.asset_key.to_user_string()}:{k.name}: {reason}"
        for k, reason in sorted(failed.items(), key=lambda kv: kv[0].to_user_string())
    ]
    raise Failure(
        description=(
            f"{len(failed)} blocking data-quality gate(s) upstream failed their latest "
            "evaluation; nothing is built on that data until they pass again (fix or reload "
            "the data, then re-run the check or the load):\n" + "\n".join(lines)
        ),
        metadata={"failed_gates": "\n".join(lines)},
        allow_retries=False,
    )
