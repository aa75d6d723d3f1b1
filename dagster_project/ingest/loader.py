"""Load landing files into the ``raw`` schema of the warehouse.

One call loads one source entity over a range of delivery days in a single
pass, with DuckDB's own readers and the explicit types of its ``SourceSpec``.
``load`` is the order of the steps; each step is its own module's:

1. ``landing`` (with ``encodings``) picks the files (valid day folders only; what is skipped is
   reported), decodes a non-UTF-8 file into a UTF-8 copy, quarantines a file
   that cannot be read whole, and checks headers (a missing required column
   fails naming file and column; an extra column is reported, not loaded);
2. ``csv_files`` / ``jsonl_files`` read rows into a temporary stage; rows DuckDB cannot read (wrong
   field count, a value that does not cast) and JSON lines that are not JSON,
   have a wrong-typed field or miss a required one go to ``ingest.rejects``
   with file, line, column and reason, and so do typed rows ``faults`` finds
   unusable (an empty required value, an event dated after its delivery);
3. (``phone_cache``) distinct phone numbers not seen before are parsed with ``phonenumbers``
   and cached in ``ingest.phone_cache``;
4. (``stage``) in one transaction, the range's rows and rejects are deleted and the new
   ones inserted, so re-loading a day replaces exactly that day; then rows a
   delivery of the week before already carried are counted.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from dagster_project.ingest import (
    csv_files,
    encodings,
    faults,
    jsonl_files,
    landing,
    phone_cache,
    stage,
    tables,
)
from dagster_project.ingest.specs import Column, SourceSpec

RAW = tables.RAW
META = tables.META


class MissingColumnError(ValueError):
    """A landing file lacks a column the source cannot be loaded without."""

    def __init__(self, entity: str, file: Path, column: str, found: list[str]):
        self.entity, self.file, self.column = entity, file, column
        super().__init__(
            f"{file}: required column {column!r} of {entity} is missing "
            f"(columns found: {', '.join(found) or 'none'})"
        )


class MissingReferenceError(RuntimeError):
    """A reference table the load reads (e.g. stores for till phones) is not loaded."""


@dataclass
class LoadResult:
    entity: str
    start: date | None
    end: date | None
    files: list[str] = field(default_factory=list)  # read (quarantined_files were not)
    rows_loaded: int = 0
    rows_rejected: int = 0
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    extra_columns: dict[str, list[str]] = field(default_factory=dict)
    empty_files: list[str] = field(default_factory=list)
    no_row_files: list[str] = field(default_factory=list)  # a CSV header and nothing else
    quarantined_files: list[landing.FileFault] = field(default_factory=list)
    encodings: dict[str, str] = field(default_factory=dict)  # file -> codec, when not UTF-8
    skipped: list[landing.Skipped] = field(default_factory=list)
    rows_quarantined: int = 0  # typed rows moved to the rejects (future-dated, empty required)
    redelivered: faults.Redelivery = field(default_factory=faults.Redelivery)
    phones_parsed: int = 0
    phones_invalid: int = 0
    rows_per_day: dict[str, int] = field(default_factory=dict)
    reject_preview: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def day_folders(landing_root: Path, spec: SourceSpec, today: date | None = None) -> list[date]:
    """Loadable delivery days of a partitioned source, oldest first (see ``landing``)."""
    return landing.scan_days(landing_root, spec, today)[0]


list_files = landing.list_files


def load(
    conn: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    landing_root: Path,
    start: date | None = None,
    end: date | None = None,
    default_region: str | None = None,
    today: date | None = None,
    first_day: date | None = None,
) -> LoadResult:
    """Load ``spec``'s files for delivery days ``[start, end]`` (or its snapshot file).

    Replaces exactly the rows and rejects of those days: rows of other days,
    and other tables, are not touched. Day folders after ``today`` (UTC by default)
    are not read; what is not read is listed in ``result.skipped`` (``first_day``,
    the first partition, only sharpens that report).
    """
    began = time.perf_counter()
    if spec.partitioned and (start is None or end is None):
        raise ValueError(f"{spec.entity} is partitioned: give start and end days")
    region = (default_region or os.environ.get("SMS_DEFAULT_PHONE_REGION", "US")).upper()
    if not spec.partitioned:
        start = end = None
    result = LoadResult(spec.entity, start, end)
    files = list_files(landing_root, spec, start, end, today)
    result.skipped = landing.skipped_entries(landing_root, spec, today, first_day)
    tables.ensure_tables(conn)
    _require_references(conn, spec)

    stage.create(conn, spec)
    _read_files(conn, spec, files, landing_root, result)
    result.rows_quarantined = faults.quarantine_rows(conn, spec)
    stage.reject_files(conn, result.quarantined_files)
    result.phones_parsed, result.phones_invalid = phone_cache.update(conn, spec, region)
    select = stage.final_select(spec, region)
    stage.ensure_raw_table(conn, spec, select)

    def log_row(rows: int, rejected: int) -> list:
        result.seconds = time.perf_counter() - began
        return [spec.entity, start, end, len(files), rows, rejected, result.seconds]

    result.rows_loaded, result.rows_rejected = stage.replace_range(
        conn, spec, start, end, select, log_row
    )
    result.rejects_by_reason, result.reject_preview, result.rows_per_day = stage.summarize(
        conn, spec, landing_root
    )
    if spec.partitioned:
        result.redelivered = faults.redelivered(conn, spec, start, end)
    result.seconds = time.perf_counter() - began
    return result


def _require_references(conn: duckdb.DuckDBPyConnection, spec: SourceSpec) -> None:
    for needed in spec.needs:
        if (
            not tables.table_exists(conn, RAW, needed)
            or not conn.execute(f'SELECT count(*) FROM {RAW}."{needed}"').fetchone()[0]
        ):
            raise MissingReferenceError(
                f"{spec.entity} needs {RAW}.{needed} (for example the country of each "
                f"store, to read phones typed at its till): materialize {RAW}/{needed} first"
            )


def _read_files(
    conn: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    files: list[Path],
    landing_root: Path,
    result: LoadResult,
) -> None:
    """Stage the rows of ``files``; note in ``result`` what was read, and what was not."""
    with tempfile.TemporaryDirectory(prefix="sms-ingest-") as work:
        prepared = landing.prepare(
            files,
            spec,
            encodings.encoding_for(spec),
            Path(work),
            landing_root,
            on_missing_column=_missing(spec),
        )
        if not spec.partitioned:
            landing.require_snapshot(spec, files, prepared)
        if prepared.read and spec.format == "csv":
            csv_files.stage(conn, spec, prepared.read, result.extra_columns)
        elif prepared.read:
            jsonl_files.stage(conn, spec, prepared.read)
        stage.restore_paths(conn, prepared.origin)
    origin = prepared.origin
    for name, paths in result.extra_columns.items():
        result.extra_columns[name] = [origin.get(p, p) for p in paths]
    result.empty_files = prepared.empty
    result.no_row_files = prepared.no_rows
    result.quarantined_files = prepared.faults
    # ``files`` are the files read: one quarantined whole was not (and a consent file of
    # that kind must not count as loaded: it may hold an opt-out).
    unread = {f.path for f in prepared.faults}
    result.files = [str(p) for p in files if str(p) not in unread]
    result.encodings = prepared.encodings


def _missing(spec: SourceSpec):
    def fail(path: Path, column: str, header: list[str]) -> None:
        raise MissingColumnError(spec.entity, path, column, header)

    return fail


def load_summary(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Rows per raw table and rejects per entity and reason (for the demo's closing summary)."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1",
            [RAW],
        ).fetchall()
    ]
    rows = {t: conn.execute(f'SELECT count(*) FROM {RAW}."{t}"').fetchone()[0] for t in names}
    rejects = []
    if tables.table_exists(conn, META, "rejects"):
        rejects = conn.execute(
            f"""SELECT entity, error_type, coalesce(column_name, '-'), count(*)
                FROM {META}.rejects GROUP BY ALL ORDER BY 1, 4 DESC"""
        ).fetchall()
    return {"rows": rows, "rejects": rejects}


def column_descriptions(spec: SourceSpec) -> dict[str, str]:
    """Descriptions for the raw table's columns, for the asset's column schema."""
    out: dict[str, str] = {
        c.name: c.description or f"{c.source!r} as delivered" for c in spec.columns
    }
    for name, _ in spec.derived:
        out[name] = "Flattened from the nested object for joins."
    for p in spec.phones:
        out[f"{p.column}_e164"] = f"{p.column} in E.164 (phonenumbers), NULL if unparseable."
        out[f"{p.column}_is_valid"] = f"Whether {p.column} is a valid number for its region."
        out[f"{p.column}_region"] = f"Region (ISO alpha-2) {p.column} belongs to."
        out[f"{p.column}_type"] = "mobile, fixed_line, fixed_line_or_mobile, voip, ..."
    for e in spec.emails:
        out[f"{e}_normalized"] = f"{e} trimmed and lower-cased."
    out["_source_file"] = "Landing file the row came from."
    out["_source_line"] = "Line in that file (JSON sources)."
    out["_partition_date"] = "Delivery day (landing folder) = Dagster partition."
    out["_loaded_at"] = "When the row was loaded."
    return out


__all__ = [
    "Column",
    "LoadResult",
    "MissingColumnError",
    "MissingReferenceError",
    "column_descriptions",
    "day_folders",
    "list_files",
    "load",
    "load_summary",
]
