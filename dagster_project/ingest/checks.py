"""The landing checks every daily ingest asset reports with its load: what was not read.

Warnings, never gates: each says what a load could not take in (a folder that is
no delivery day, a file without rows, a file quarantined whole, rows a previous
day already delivered), with counts and at most a few examples. Paths are shown
below the landing folder; no example carries a phone number (paths, reasons and
keys only). The checks run inside the asset's own step, from its ``LoadResult``,
so they cost no second pass over the files.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue

from dagster_project.ingest.loader import LoadResult
from dagster_project.lib.metadata import md_table

MAX_EXAMPLES = 5


def _rel(path: str, root: Path) -> str:
    try:
        return os.path.relpath(path, root) if Path(path).is_relative_to(root) else path
    except ValueError:
        return path


def landing_layout(result: LoadResult, root: Path) -> AssetCheckResult:
    """Every entry under the source's landing folder is a delivery day and a file it reads.

    A folder named ``2026-12-2`` or ``2026-12-32``, a day in the future, a ``.xlsx``
    beside the CSVs or a file outside any day folder is never loaded: without this
    check its rows would be missing with no word, and a future day would be judged
    as "the latest delivery" by the volume gate.
    """
    skipped = result.skipped
    kinds = Counter(s.kind for s in skipped)
    rows = [[_rel(s.path, root), s.kind, s.reason] for s in skipped[:MAX_EXAMPLES]]
    return _result(
        "landing_layout",
        not skipped,
        f"{len(skipped)} entries under the landing folder not loaded "
        f"({', '.join(f'{k}: {n}' for k, n in sorted(kinds.items()))}); first: "
        + "; ".join(f"{p}: {r}" for p, _, r in rows[:2])
        if skipped
        else "every folder is a delivery day and every file is read",
        {
            "entries_skipped": len(skipped),
            "skipped_by_kind": MetadataValue.json(dict(kinds)),
            "examples": MetadataValue.md(md_table(["path", "kind", "reason"], rows)),
        },
    )


def files_without_rows(result: LoadResult, root: Path) -> AssetCheckResult:
    """No delivered file is empty or holds only its header.

    An empty export loads "0 rows" and looks like a quiet day; usually the export job
    failed half-way. Counted so a run that loaded nothing says so.
    """
    empty, header_only = result.empty_files, result.no_row_files
    files = [(f, "empty") for f in empty] + [(f, "header only") for f in header_only]
    rows = [[_rel(f, root), kind] for f, kind in files[:MAX_EXAMPLES]]
    return _result(
        "files_without_rows",
        not files,
        f"{len(files)} of {len(result.files)} files read hold no rows ({len(empty)} empty, "
        f"{len(header_only)} with a header only): " + ", ".join(r[0] for r in rows[:3])
        if files
        else f"all {len(result.files)} files read hold rows",
        {
            "files_read": len(result.files),
            "empty_files": len(empty),
            "header_only_files": len(header_only),
            "examples": MetadataValue.md(md_table(["file", "holds"], rows)),
        },
    )


def files_quarantined(result: LoadResult, root: Path) -> AssetCheckResult:
    """No file was quarantined whole (not text, an unknown encoding, no header, wrong delimiter).

    Such a file is in ``ingest.rejects`` with line NULL and the reason, and the other
    files of the load went on; its rows are missing until it is re-sent.
    """
    faults = result.quarantined_files
    delivered = len(result.files) + len(faults)
    kinds = Counter(f.error_type for f in faults)
    rows = [[_rel(f.path, root), f.error_type, f.reason] for f in faults[:MAX_EXAMPLES]]
    return _result(
        "files_quarantined",
        not faults,
        f"{len(faults)} of {delivered} files quarantined whole (in ingest.rejects): "
        + "; ".join(f"{p}: {r}" for p, _, r in rows[:2])
        if faults
        else f"all {delivered} files could be read",
        {
            "files": delivered,
            "files_quarantined": len(faults),
            "quarantined_by_reason": MetadataValue.json(dict(kinds)),
            "files_not_utf8": MetadataValue.json(
                {_rel(f, root): c for f, c in list(result.encodings.items())[:20]}
            ),
            "examples": MetadataValue.md(md_table(["file", "error", "reason"], rows)),
        },
    )


def redelivered_rows(result: LoadResult, root: Path) -> AssetCheckResult:
    """No loaded row repeats one a delivery of the week before already carried (same key).

    A previous day's export sent again loads its rows a second time under the new
    day. dbt keeps one of each, so the marts stay right, but the export job
    misfired and the day's own export may be missing.
    """
    found = result.redelivered
    share = found.rows / result.rows_loaded if result.rows_loaded else 0.0
    rows = [
        [_rel(e["file"], root), e["line"], e["key"], e["first_delivered"]]
        for e in (found.examples or [])[:MAX_EXAMPLES]
    ]
    where = ", ".join(f"{r[0]}:{r[1]}" if r[1] else r[0] for r in rows[:3])
    return _result(
        "redelivered_rows",
        not found.rows,
        f"{found.rows:,} of {result.rows_loaded:,} rows loaded ({share:.1%}) were already "
        f"delivered on an earlier day, e.g. {where}"
        if found.rows
        else "no row repeats an earlier delivery",
        {
            "rows_loaded": result.rows_loaded,
            "rows_redelivered": found.rows,
            "share_redelivered": round(share, 4),
            "examples": MetadataValue.md(
                md_table(["file", "line", "key", "first delivered"], rows)
            ),
        },
    )


def _result(name: str, passed: bool, reason: str, metadata: dict) -> AssetCheckResult:
    return AssetCheckResult(
        check_name=name,
        passed=passed,
        severity=AssetCheckSeverity.WARN,
        description=reason,
        metadata={"reason": reason, **metadata},
    )


CHECKS: dict[str, Callable[[LoadResult, Path], AssetCheckResult]] = {
    "landing_layout": landing_layout,
    "files_without_rows": files_without_rows,
    "files_quarantined": files_quarantined,
    "redelivered_rows": redelivered_rows,
}


def check_specs(key: AssetKey) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(name, asset=key, description=(fn.__doc__ or "").strip(), blocking=False)
        for name, fn in CHECKS.items()
    ]


def results(result: LoadResult, root: Path, selected: set[str]) -> list[AssetCheckResult]:
    """The landing checks a run asked for (all of them when the asset is materialized)."""
    return [fn(result, root) for name, fn in CHECKS.items() if name in selected]
