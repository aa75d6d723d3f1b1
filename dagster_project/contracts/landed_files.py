"""Which landed files the warehouse holds: a record per loaded file, read before every send.

A contract between ingest, which loads landing files and records each one it loaded
(``ingest.landed_files``: path, size and modification time as they were when the
load read them), and activation, which must not send while a landed consent file
is not loaded: a STOP the CRM recorded at 04:17 counts at 16:00 the same day.

A file is *unloaded* when no record matches its current path (relative to the landing
folder, so a moved or copied landing folder stays loaded), size and mtime: new,
re-exported or rewritten since its day was loaded. Files are found by pattern
anywhere below the source's folder, so a file the loader would never read (a
misnamed day folder, an upper-case extension) is unloaded too, and named.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

# The CRM consent export: ``<landing>/crm/consent/<YYYY-MM-DD>/*.jsonl``.
CONSENT_FOLDER = "crm/consent"
CONSENT_PATTERN = "*.jsonl"

TABLE = "ingest.landed_files"
DDL = f"""
CREATE SCHEMA IF NOT EXISTS ingest;
CREATE TABLE IF NOT EXISTS {TABLE} (
    entity VARCHAR NOT NULL,
    partition_date DATE,
    path VARCHAR NOT NULL,
    size BIGINT NOT NULL,
    mtime_ns BIGINT NOT NULL,
    recorded_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
"""

Stat = tuple[int, int]  # (size, mtime_ns)


def ensure(conn) -> None:
    conn.execute(DDL)


def stat(path: Path) -> Stat:
    st = path.stat()
    return st.st_size, st.st_mtime_ns


def snapshot(paths: Iterable[Path]) -> dict[Path, Stat]:
    """Size and mtime of each file now: taken before a load reads them, so a file
    rewritten during the load no longer matches its record and is loaded again."""
    out = {}
    for path in paths:
        try:
            out[Path(path).resolve()] = stat(Path(path))
        except FileNotFoundError:
            continue
    return out


def record(conn, entity: str, root: Path, days: Iterable[date], files: dict[Path, Stat]) -> None:
    """Replace the record of these delivery days with the files a load just read."""
    ensure(conn)
    root = Path(root).resolve()
    days = sorted(set(days))
    conn.execute("BEGIN TRANSACTION")
    try:
        for day in days:
            conn.execute(
                f"DELETE FROM {TABLE} WHERE entity = ? AND partition_date = ?", [entity, day]
            )
        rows = [
            (entity, _day_of(path), _relative(path, root), size, mtime)
            for path, (size, mtime) in sorted(files.items())
        ]
        if rows:
            conn.executemany(
                f"INSERT INTO {TABLE} (entity, partition_date, path, size, mtime_ns) "
                "VALUES (?, ?, ?, ?, ?)",
                rows,
            )
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise


def _relative(path: Path, root: Path) -> str:
    return Path(path).resolve().relative_to(root).as_posix()


def _after(path: Path, until: date) -> bool:
    day = _day_of(path)
    return day is not None and day > until


def _day_of(path: Path) -> date | None:
    try:
        return date.fromisoformat(path.parent.name)
    except ValueError:
        return None


def landed(folder: Path, pattern: str) -> list[Path]:
    """Every file below ``folder`` whose name matches ``pattern`` (case-insensitive)."""
    if not folder.is_dir():
        return []
    out = []
    for directory, _, names in os.walk(folder):
        out += [
            Path(directory, n).resolve()
            for n in names
            if fnmatch.fnmatch(n.lower(), pattern.lower())
        ]
    return sorted(out)


def through(now: datetime) -> date:
    """The last delivery day a run at ``now`` must have loaded: its UTC day (delivery
    days are UTC days; a folder dated later is refused by the loader and reported)."""
    return now.astimezone(UTC).date()


def unloaded(
    conn, entity: str, root: Path, folder: str, pattern: str, until: date | None = None
) -> list[Path]:
    """Landed files of ``entity`` (below ``root / folder``) no load has read as they are now.

    With ``until``, files in delivery-day folders after it are not due yet (a replay
    on an earlier clock); a file outside any delivery-day folder always counts.
    """
    root = Path(root).resolve()
    found = landed(root / folder, pattern)
    files = [p for p in found if until is None or not _after(p, until)]
    if not files:
        return []
    known = conn.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'ingest' AND table_name = 'landed_files'"
    ).fetchall()[0][0]
    done: set[tuple[str, int, int]] = set()
    if known:
        done = {
            (p, s, m)
            for p, s, m in conn.execute(
                f"SELECT path, size, mtime_ns FROM {TABLE} WHERE entity = ?", [entity]
            ).fetchall()
        }
    out = []
    for path in files:
        try:
            size, mtime = stat(path)
        except FileNotFoundError:
            continue
        if (_relative(path, root), size, mtime) not in done:
            out.append(path)
    return out
