"""Load what has landed and is not loaded yet, whatever its delivery day: the send-time catch-up.

The daily load and the landing sensor cover the normal flow; a send must not depend
on either having run since the last file landed. Before every dispatch, every CRM
consent file that landed and that no load has read as it is now (new, re-exported,
rewritten: ``contracts.landed_files``) is loaded with the ordinary loader, day by
day, and recorded. A file that cannot be loaded (outside a delivery-day folder, in a
folder that is not a delivery day, a name the loader does not read) fails the
catch-up naming it, so nothing is sent until it is fixed: it may hold a STOP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from dagster_project.contracts import landed_files
from dagster_project.ingest import landing, loader
from dagster_project.ingest.specs import SourceSpec


class UnloadableFiles(RuntimeError):
    """Landed files the loader cannot read: nothing may be sent past them."""


@dataclass
class CatchUp:
    days: list[date] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    results: list[loader.LoadResult] = field(default_factory=list)

    @property
    def rows_loaded(self) -> int:
        return sum(r.rows_loaded for r in self.results)

    @property
    def rows_rejected(self) -> int:
        return sum(r.rows_rejected for r in self.results)


def load_and_record(
    conn,
    spec: SourceSpec,
    landing_root: Path,
    start: date,
    end: date,
    default_region: str,
    *,
    first_day: date | None = None,
    today: date | None = None,
) -> loader.LoadResult:
    """``loader.load`` for a day range, then the record of the files it read.

    Sizes and mtimes are taken before the load reads the files: one rewritten during
    the load no longer matches its record and is loaded again next time.
    """
    before = landed_files.snapshot(loader.list_files(landing_root, spec, start, end, today=today))
    result = loader.load(
        conn, spec, landing_root, start, end, default_region=default_region, today=today,
        first_day=first_day,
    )  # fmt: skip
    read = {Path(f).resolve() for f in result.files}
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    landed_files.record(
        conn, spec.entity, landing_root, days, {p: s for p, s in before.items() if p in read}
    )
    return result


def _unloadable(paths: list[Path], why: str, fix: str) -> UnloadableFiles:
    shown = ", ".join(str(p) for p in paths[:5])
    more = f" and {len(paths) - 5} more" if len(paths) > 5 else ""
    return UnloadableFiles(
        f"{len(paths)} landed {why}: {shown}{more}. Nothing is sent while they are not loaded "
        f"(they may hold an opt-out): {fix}"
    )


def catch_up(
    conn, spec: SourceSpec, landing_root: Path, default_region: str, until: date | None = None
) -> CatchUp:
    """Load every landed, not yet loaded file of ``spec`` (any delivery day up to ``until``)."""
    folder = (landing_root / spec.path).resolve()
    pending = landed_files.unloaded(conn, spec.entity, landing_root, spec.path, spec.glob, until)
    out = CatchUp()
    if not pending:
        return out
    loadable_days = set(loader.day_folders(landing_root, spec, today=until))
    days, stray = set(), []
    for path in pending:
        try:
            day = date.fromisoformat(path.parent.name)
        except ValueError:
            day = None
        if path.parent.parent != folder or day not in loadable_days:
            stray.append(path)
        else:
            days.add(day)
    if stray:
        raise _unloadable(
            stray, f"{spec.entity} file(s) lie outside a delivery-day folder",
            "move each into its delivery-day folder (YYYY-MM-DD), or remove it.",
        )  # fmt: skip
    for start, end in landing.contiguous_ranges(days):
        out.results.append(
            load_and_record(conn, spec, landing_root, start, end, default_region, today=until)
        )
    out.days = sorted(days)
    out.files = [str(p) for p in pending]
    left = landed_files.unloaded(conn, spec.entity, landing_root, spec.path, spec.glob, until)
    if left:
        raise _unloadable(
            left, f"{spec.entity} file(s) the loader did not read",
            "the reason is in ingest.rejects (a file quarantined whole: its encoding, no "
            "header) or the load's skipped entries; fix or re-export the file, or remove it.",
        )  # fmt: skip
    return out
