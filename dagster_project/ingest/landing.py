"""What a landing folder really holds: delivery days, the files to read, and what is not read.

Exports arrive the way shops make them: a folder named ``2026-12-2`` or
``2026-12-32``, a day in the future, ``.CSV`` in capitals, an empty file, a CSV
without its header or with semicolons, Excel's Windows-1252 text. This module
decides, per entry, whether it is loaded, and says why not when it is not:

* a day folder must be named ``YYYY-MM-DD``, be a real date and not lie after
  today (UTC, the last Dagster partition); anything else under a source folder
  is *skipped* and reported (``Skipped``), never loaded into a made-up day;
* a file is read when its name ends in the source's extension, in any case
  (``.csv``, ``.CSV``); other files are skipped and reported;
* a file that is not UTF-8 is decoded with the entity's encoding
  (``SMS_LANDING_ENCODINGS``, default ``cp1252``; see ``encodings``) into a
  UTF-8 copy that DuckDB reads; a file that cannot be text, or has no header,
  is *quarantined* whole (``FileFault``) and the other files of the load go on.

File system and codecs only: no DuckDB, no Dagster.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from dagster_project.ingest.encodings import UTF16_BOMS, decode, is_utf8, text_head
from dagster_project.ingest.specs import SourceSpec, normalize_header

_DAY_NAME = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LOOSE_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


class LandingFileError(ValueError):
    """A reference snapshot that cannot replace the loaded one (empty or unreadable)."""


@dataclass(frozen=True)
class Skipped:
    """An entry under a source folder that is not loaded, and why."""

    path: str
    kind: str  # future_day, not_a_date, not_a_day, before_first_day, other_file, ...
    reason: str


@dataclass(frozen=True)
class FileFault:
    """A delivered file quarantined whole: not one of its lines is loaded."""

    path: str
    error_type: str  # undecodable, binary, no_header, wrong_delimiter
    reason: str
    first_line: str | None = None


@dataclass
class Prepared:
    """The files of one load, ready for DuckDB's readers."""

    read: list[Path] = field(default_factory=list)  # what DuckDB reads, in order
    origin: dict[str, str] = field(default_factory=dict)  # UTF-8 copy -> file as delivered
    encodings: dict[str, str] = field(default_factory=dict)  # delivered file -> its codec
    empty: list[str] = field(default_factory=list)  # no bytes, or only blank lines
    no_rows: list[str] = field(default_factory=list)  # a header and nothing else
    faults: list[FileFault] = field(default_factory=list)


# --------------------------------------------------------------------------- folders


def utc_today() -> date:
    return datetime.now(UTC).date()


def _judge_day_folder(
    name: str, today: date, first_day: date | None
) -> tuple[date | None, str, str]:
    """(day, kind, reason): a day to load, or None and why the folder is skipped."""
    if _DAY_NAME.match(name):
        try:
            day = date.fromisoformat(name)
        except ValueError as exc:
            return None, "not_a_date", f"{name} is not a date ({exc}): not loaded"
        if day > today:
            return (
                None,
                "future_day",
                f"delivery day {name} lies after today ({today}, UTC): not loaded (a mistyped "
                "folder name? It would be loaded once that day comes)",
            )
        if first_day and day < first_day:
            return (
                None,
                "before_first_day",
                f"delivery day {name} is before the first partition {first_day}: not loaded "
                "(set SMS_PARTITION_START earlier to load it)",
            )
        return day, "", ""
    loose = _LOOSE_DAY.match(name)
    if loose:
        y, m, d = (int(g) for g in loose.groups())
        try:
            hint = f": did you mean {date(y, m, d).isoformat()}?"
        except ValueError:
            hint = " (and not a date either)"
        return None, "not_a_day", f"{name} is not a delivery-day name (YYYY-MM-DD){hint}"
    return None, "not_a_day", f"{name} is not a delivery-day folder (YYYY-MM-DD): not loaded"


def _reads(spec: SourceSpec, path: Path) -> bool:
    # Windows tools write .CSV as readily as .csv: the extension is matched in any case.
    return path.suffix.lower() == "." + spec.format


def scan_days(
    landing_root: Path,
    spec: SourceSpec,
    today: date | None = None,
    first_day: date | None = None,
) -> tuple[list[date], list[Skipped]]:
    """The loadable delivery days of a partitioned source, oldest first, and what is skipped.

    Never raises on a folder's name: ``2026-12-32`` is reported, not a crash.
    """
    base = landing_root / spec.path
    if not spec.partitioned or not base.is_dir():
        return [], []
    today = today or utc_today()
    days: list[date] = []
    skipped: list[Skipped] = []
    for entry in sorted(base.iterdir()):
        if not entry.is_dir():
            skipped.append(
                Skipped(
                    str(entry),
                    "outside_day_folder",
                    f"not in a delivery-day folder: {spec.entity} files go in "
                    f"{spec.path}/YYYY-MM-DD/",
                )
            )
            continue
        day, kind, reason = _judge_day_folder(entry.name, today, first_day)
        if day is None:
            skipped.append(Skipped(str(entry), kind, reason))
        else:
            days.append(day)
    return sorted(days), skipped


def _day_entries(folder: Path, spec: SourceSpec) -> tuple[list[Path], list[Skipped]]:
    files, skipped = [], []
    for entry in sorted(folder.iterdir()):
        if entry.is_dir():
            skipped.append(
                Skipped(str(entry), "nested_folder", "a folder inside a delivery day: not read")
            )
        elif _reads(spec, entry):
            files.append(entry)
        else:
            skipped.append(
                Skipped(str(entry), "other_file", f"not a .{spec.format} file: not read")
            )
    return files, skipped


def contiguous_ranges(days: Iterable[date]) -> list[tuple[date, date]]:
    """[d1, d2, d3, d7] -> [(d1, d3), (d7, d7)]"""
    out: list[tuple[date, date]] = []
    for day in sorted(set(days)):
        if out and day == out[-1][1] + timedelta(days=1):
            out[-1] = (out[-1][0], day)
        else:
            out.append((day, day))
    return out


def list_files(
    landing_root: Path,
    spec: SourceSpec,
    start: date | None = None,
    end: date | None = None,
    today: date | None = None,
) -> list[Path]:
    """The files a load of ``[start, end]`` reads, in a stable order."""
    if not spec.partitioned:
        path = landing_root / spec.path
        return [path] if path.is_file() else []
    days, _ = scan_days(landing_root, spec, today)
    files: list[Path] = []
    for day in days:
        if (start and day < start) or (end and day > end):
            continue
        files.extend(_day_entries(landing_root / spec.path / day.isoformat(), spec)[0])
    return files


def skipped_entries(
    landing_root: Path, spec: SourceSpec, today: date | None = None, first_day: date | None = None
) -> list[Skipped]:
    """Everything under the source's folder that no load reads, with the reason."""
    days, skipped = scan_days(landing_root, spec, today, first_day)
    for day in days:
        skipped += _day_entries(landing_root / spec.path / day.isoformat(), spec)[1]
    return skipped


# --------------------------------------------------------------------------- headers


def _header_fault(spec: SourceSpec, path: str, header: list[str], line: str) -> FileFault | None:
    """A CSV whose first line is not a header the source knows: why, or None."""
    if any(spec.column(h) for h in header):
        return None
    for delim, name in ((";", "semicolons"), ("\t", "tabs")):
        fields = next(csv.reader([line], delimiter=delim), [])
        if len(fields) > 1 and any(spec.column(h) for h in fields):
            return FileFault(
                path,
                "wrong_delimiter",
                f"wrong_delimiter: the columns are separated by {name}, the loader reads "
                "comma-separated files (re-export as CSV with commas)",
                line[:2000],
            )
    expected = ",".join(c.source for c in spec.columns[:4])
    return FileFault(
        path,
        "no_header",
        f"no_header: none of the first line's {len(header)} fields is a column of "
        f"{spec.entity}; the file needs its header row (e.g. '{expected},...')",
        line[:2000],
    )


def missing_required(spec: SourceSpec, header: list[str]) -> str | None:
    found = {normalize_header(h) for h in header}
    for col in spec.required:
        if normalize_header(col.source) not in found:
            return col.source
    return None


# --------------------------------------------------------------------------- prepare


def prepare(
    files: list[Path],
    spec: SourceSpec,
    codec: str,
    work_dir: Path,
    landing_root: Path,
    on_missing_column=None,
) -> Prepared:
    """Sort ``files`` into read (as is, or as a UTF-8 copy), empty, no rows and quarantined.

    A UTF-8 copy keeps the path below the landing root under ``work_dir`` (so the
    day folder in its path still names the delivery day). ``on_missing_column(path,
    column, header)`` is called for a CSV whose header lacks a required column.
    """
    out = Prepared()
    for i, path in enumerate(files):
        shown = str(path)
        if path.stat().st_size == 0:
            out.empty.append(shown)
            continue
        read, read_codec = path, "utf-8-sig"
        ok, nul = is_utf8(path)
        if not ok:
            with path.open("rb") as f:
                bom = f.read(2)
            guess = "utf-16" if bom in UTF16_BOMS else codec
            if nul is not None and guess != "utf-16":
                out.faults.append(
                    FileFault(
                        shown,
                        "binary",
                        f"binary: a NUL byte at offset {nul}, so not a text export (a "
                        "spreadsheet or a compressed file with a text name?)",
                    )
                )
                continue
            text, why = decode(path, guess)
            if text is None:
                out.faults.append(FileFault(shown, "undecodable", f"undecodable: {why}"))
                continue
            try:
                rel = path.relative_to(landing_root)
            except ValueError:
                rel = Path(path.name)
            read = work_dir / str(i) / rel
            read.parent.mkdir(parents=True, exist_ok=True)
            read.write_text(text.lstrip("\ufeff"), encoding="utf-8", newline="")
            out.origin[str(read)] = shown
            out.encodings[shown] = guess
            read_codec = "utf-8"
        first, more = text_head(read, read_codec)
        if not first:
            out.empty.append(shown)
            continue
        if spec.format == "csv":
            header = next(csv.reader([first]), [])
            fault = _header_fault(spec, shown, header, first)
            if fault:
                out.faults.append(fault)
                continue
            missing = missing_required(spec, header)
            if missing and on_missing_column:
                on_missing_column(path, missing, header)
            if not more:
                out.no_rows.append(shown)
                continue
        out.read.append(read)
    return out


def require_snapshot(spec: SourceSpec, files: list[Path], prepared: Prepared) -> None:
    """A reference snapshot replaces the loaded one whole: an empty or unreadable one must not."""
    if not files:
        return
    for fault in prepared.faults:
        raise LandingFileError(
            f"{fault.path}: {fault.reason}; raw.{spec.entity} keeps its last snapshot"
        )
    for path in prepared.empty + prepared.no_rows:
        raise LandingFileError(
            f"{path}: holds no rows; raw.{spec.entity} keeps its last snapshot "
            "(a snapshot replaces the table whole)"
        )
