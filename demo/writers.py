"""The landing folder: wiping what the demo owns, writing files, and keeping the books.

Formatted lines arrive as one Arrow string array per chunk; each output file is
a contiguous slice of its buffer, written in one go. Injected lines are spliced
in after their source rows, and their physical line numbers are recorded.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from .mess import COUNTED_KINDS, DUPLICATE, KIND_NAMES, Insertions, RowMess
from .params import DAY_SECONDS, Params

ENTITIES = (
    "pos_stores",
    "pos_transactions",
    "pos_invoices",
    "crm_contacts",
    "crm_tickets",
    "crm_consent",
    "shop_products",
    "shop_orders",
    "shop_checkouts",
)
OWNED_FOLDERS = ("pos", "crm", "shop")
# Intra-day deliveries are cut every hour: a cart left at 10:05 lands at 11:00, in time
# for a journey that texts an hour after the cart was left.
INTRADAY_CUT_SECONDS = 3600


@dataclass
class OutFile:
    path: str  # relative to the landing root, with forward slashes
    start: int  # first row, relative to the chunk
    stop: int


def row_chunks(day: np.ndarray, days: int, max_rows: int) -> Iterator[tuple[int, int]]:
    """Row ranges [r0, r1) covering whole delivery days of ``day`` (sorted).

    A range holds at most ``max_rows`` rows unless a single day holds more; empty
    ranges are skipped.
    """
    bounds = np.searchsorted(day, np.arange(days + 1))
    d0 = 0
    while d0 < days:
        d1 = int(np.searchsorted(bounds, bounds[d0] + max_rows, side="right")) - 1
        d1 = min(max(d1, d0 + 1), days)
        if bounds[d1] > bounds[d0]:
            yield int(bounds[d0]), int(bounds[d1])
        d0 = d1


def daily_files(
    folder: str, ext: str, params: Params, day: np.ndarray, seconds: np.ndarray | None = None
) -> list[OutFile]:
    """The files of chunk rows sorted by delivery ``day``: one per day, or several.

    A day's file is ``<folder>/<day>/<last folder name>-<day>.<ext>``. Given ``seconds``
    (each row's time in seconds after 00:00 UTC of its delivery day, ascending within a
    day), the last ``params.intraday_days`` days are delivered as a shop exporting through
    the day delivers them: one file per cut (``intraday_slices``).
    """
    stem = folder.rsplit("/", 1)[-1]
    starts, stops = group_bounds(day)
    out: list[OutFile] = []
    for a, b in zip(starts, stops, strict=True):
        iso = params.day_iso(day[a])
        base = f"{folder}/{iso}/{stem}-{iso}"
        if seconds is None or day[a] < params.first_intraday_day:
            out.append(OutFile(f"{base}.{ext}", int(a), int(b)))
            continue
        for cut, lo, hi in intraday_slices(seconds[a:b]):
            out.append(OutFile(f"{base}-{cut_name(cut)}.{ext}", int(a + lo), int(a + hi)))
    return out


def intraday_slices(seconds: np.ndarray) -> list[tuple[int, int, int]]:
    """``(cut, start, stop)`` per intra-day file of one day's rows (``seconds`` ascending).

    Cuts fall every ``INTRADAY_CUT_SECONDS`` from 00:00; a file holds the rows at or after
    the previous cut and before its own (a cart left at 10:05 is in the 11:00 file), so
    the files partition the day. Cuts with no row write no file (an export with nothing
    new sends nothing, rather than an empty file the loader would warn about).
    """
    # A time outside its delivery day cannot occur for these rows; clipping keeps a
    # malformed one in the day's first or last file rather than in no file.
    clipped = np.clip(seconds, 0, DAY_SECONDS - 1)
    cut = (clipped // INTRADAY_CUT_SECONDS + 1) * INTRADAY_CUT_SECONDS
    if len(cut) and np.any(np.diff(cut) < 0):
        raise ValueError("intraday_slices: rows must be sorted by their time in the day")
    starts, stops = group_bounds(cut)
    return [(int(cut[a]), int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


def cut_name(cut: int) -> str:
    """``HHMM`` of a cut in seconds after 00:00 (the day's end is ``2400``)."""
    return f"{cut // 3600:02d}{cut % 3600 // 60:02d}"


def group_bounds(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start offsets of runs of equal keys (keys already sorted) and their stops."""
    if len(keys) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(keys)) + 1])
    stops = np.concatenate([starts[1:], [len(keys)]])
    return starts, stops


class Landing:
    """Writes under the landing root and keeps per-entity counts of rows, files and mess."""

    def __init__(self, root: Path):
        self.root = root
        self.rows = {e: 0 for e in ENTITIES}
        self.files = {e: 0 for e in ENTITIES}
        self.mess = {e: {k: 0 for k in COUNTED_KINDS} for e in ENTITIES}
        self.records: list[dict] = []

    def wipe(self) -> None:
        """Remove only the folders the demo writes, so re-runs start clean."""
        for name in OWNED_FOLDERS:
            folder = self.root / name
            if folder.is_symlink() or folder.is_file():
                folder.unlink()
            elif folder.exists():
                shutil.rmtree(folder)

    def count(self, entity: str, kind: str, n: int) -> None:
        self.mess[entity][kind] += int(n)

    def count_row_mess(self, entity: str, row_mess: RowMess) -> None:
        for kind, n in row_mess.counts().items():
            self.count(entity, kind, n)

    def write_reference(self, entity: str, relpath: str, header: list[str], rows: list[list[str]]):
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        target = self.root / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(buf.getvalue().encode("utf-8"))
        self.rows[entity] += len(rows)
        self.files[entity] += 1

    def write_chunk(
        self,
        entity: str,
        header: list[str] | None,
        lines: pa.Array,
        files: list[OutFile],
        row_offset: int,
        inserts: Insertions,
        corrupt: Callable[[str, int, np.ndarray], tuple[str, str | None]],
        future: np.ndarray | None = None,
        future_column: str | None = None,
    ) -> None:
        """Write ``files`` from ``lines`` (chunk rows), splicing in planned insertions.

        ``future`` (per row of the whole entity, like ``inserts.rows``) marks rows dated
        after their delivery that a loader must quarantine; they and their exact copies are
        logged as ``future_dated`` in column ``future_column``.
        """
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[
            lines.offset : lines.offset + len(lines) + 1
        ]
        data = memoryview(lines.buffers()[2]) if len(lines) else memoryview(b"")
        head = (",".join(header) + "\n").encode() if header else b""
        head_lines = 1 if header else 0
        for f in files:
            lo, hi = np.searchsorted(inserts.rows, [f.start + row_offset, f.stop + row_offset])
            if future is not None:
                ins = slice(lo, hi)
                self._log_future(
                    entity,
                    f,
                    row_offset,
                    head_lines,
                    inserts.rows[ins],
                    inserts.kinds[ins],
                    future,
                    future_column,
                )
            pieces = [head]
            prev = f.start
            for k in range(lo, hi):
                r = int(inserts.rows[k]) - row_offset
                pieces.append(data[offsets[prev] : offsets[r + 1]])
                source = bytes(data[offsets[r] : offsets[r + 1]]).decode("utf-8")
                kind = int(inserts.kinds[k])
                if kind == DUPLICATE:
                    pieces.append(source.encode("utf-8"))
                else:
                    broken, column = corrupt(source[:-1], kind, inserts.u[k])
                    pieces.append((broken + "\n").encode("utf-8"))
                    # Rows before it in this file, plus the copies already inserted, plus itself.
                    line_no = int(head_lines + (r - f.start + 1) + (k - lo) + 1)
                    self.records.append(
                        {
                            "entity": entity,
                            "file": f.path,
                            "line": line_no,
                            "kind": KIND_NAMES[kind],
                            "column": column,
                        }
                    )
                self.mess[entity][KIND_NAMES[kind]] += 1
                prev = r + 1
            pieces.append(data[offsets[prev] : offsets[f.stop]])
            target = self.root / f.path
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as fh:
                fh.write(b"".join(pieces))
            self.rows[entity] += (f.stop - f.start) + int(hi - lo)
            self.files[entity] += 1

    def _log_future(
        self,
        entity: str,
        f: OutFile,
        row_offset: int,
        head_lines: int,
        inserted_rows: np.ndarray,
        inserted_kinds: np.ndarray,
        future: np.ndarray,
        column: str | None,
    ) -> None:
        """Log the rows of ``f`` dated after their delivery, and their exact copies, by line."""
        first = f.start + row_offset
        rows = first + np.flatnonzero(future[first : f.stop + row_offset])
        if not len(rows):
            return
        # A row's line: the header, the rows before it, and the copies inserted before it
        # (a row's own copy follows it).
        lines = head_lines + (rows - first + 1) + np.searchsorted(inserted_rows, rows)
        copied = np.isin(rows, inserted_rows[inserted_kinds == DUPLICATE])
        for line in [*lines, *(lines[copied] + 1)]:
            self.records.append(
                {
                    "entity": entity,
                    "file": f.path,
                    "line": int(line),
                    "kind": "future_dated",
                    "column": column,
                }
            )
        self.mess[entity]["future_dated"] += len(rows) + int(copied.sum())

    def write_mess_log(self, path: Path) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            for record in self.records:
                fh.write(json.dumps(record, ensure_ascii=False) + "\n")
