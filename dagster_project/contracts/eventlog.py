"""The landing log: durable appends by the receiver, incremental reads by ingest.

Files ``events-YYYY-MM-DD.jsonl`` (the UTC day the receiver got the event) in
one folder, default ``$SMS_DATA_DIR/webhooks/events`` (``events_dir()``); one
JSON object per line, every line ends with ``\\n``. Format: ``docs/outcomes.md``.

Writing (``EventLog.append``): the line is one ``os.write`` to a descriptor
opened with ``O_APPEND``, under an exclusive ``flock`` on the file, then
``os.fsync``; ``append`` returns only after that, so an acknowledged event is
on disk. Who may write at once:

* any number of threads and processes (uvicorn ``--workers``, a second
  receiver) on one local file system: ``O_APPEND`` puts each line at the end,
  and the ``flock`` keeps a line from interleaving with another writer's repair
  of a torn tail (below). The fsync runs after the lock is released, so
  concurrent appends share the disk's flushes instead of queueing for them.
* not a network file system: ``O_APPEND`` and ``flock`` are not atomic there.
  Run one receiver per folder on NFS and the like.

A writer that died mid-line (power loss, a full disk) leaves a last line
without ``\\n``. The next append ends that fragment with a ``\\n`` before its own
line, so the fragment becomes one unreadable line (ingest rejects it with
its file and line) and never swallows the acknowledged event written after it.

Reading (``read_new``): from byte offsets the caller keeps (a Dagster sensor
cursor), every complete line added since, with its file and line number. A
last line without ``\\n`` is not returned and not passed: it is read once it is
complete, which a line being written is a moment later and a crash's fragment
is when the next append ends it.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from dagster_project import settings
from dagster_project.contracts.durable_files import durable_append
from dagster_project.contracts.events import EVENT_KEYS, REQUIRED_KEYS

FILE_PATTERN = re.compile(r"^events-(\d{4}-\d{2}-\d{2})\.jsonl$")
FILE_MODE = 0o600  # phones and reply texts: readable by the pipeline's user only


def events_dir() -> Path:
    """``$SMS_WEBHOOK_DIR/events`` (default ``$SMS_DATA_DIR/webhooks/events``): where the
    receiver writes and ingest reads."""
    return settings.events_dir()


def file_name(day: str) -> str:
    return f"events-{day}.jsonl"


class EventLog:
    """Appends events to the day files of one folder. Thread-safe; see the module doc for
    processes."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._known: set[Path] = set()  # files whose directory entry is known durable
        self._guard = threading.Lock()

    def path_for(self, received_at: str | None = None) -> Path:
        """The file of the UTC day of ``received_at`` (ISO), or of now."""
        moment = datetime.fromisoformat(received_at) if received_at else datetime.now(UTC)
        return self.directory / file_name(moment.astimezone(UTC).date().isoformat())

    def append(self, event: Mapping) -> Path:
        """Write one event as one line, durably; returns the file. Raises ``OSError`` when
        the line may not be on disk: the caller must not acknowledge the event."""
        path = self.path_for(event.get("received_at"))
        data = (json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        if b"\n" in data[:-1]:  # json.dumps escapes newlines; this guards the invariant
            raise ValueError("an event line must not contain a newline")
        new_file = path not in self._known
        if new_file:
            self.directory.mkdir(parents=True, exist_ok=True)
        try:
            with durable_append(path, FILE_MODE, created=new_file) as out:
                out.write(data)
        except FileNotFoundError:  # the folder went away under a running receiver
            self.directory.mkdir(parents=True, exist_ok=True)
            with self._guard:
                self._known.clear()
            new_file = True
            with durable_append(path, FILE_MODE, created=True) as out:
                out.write(data)
        if new_file:
            with self._guard:
                self._known.add(path)
        return path


# --- reading ------------------------------------------------------------------------


class Position(NamedTuple):
    """How far a file has been read: bytes consumed and complete lines returned so far."""

    byte: int
    line: int


Offsets = dict[str, Position]


@dataclass(frozen=True)
class LandedLine:
    """One complete line of the landing log.

    ``event`` is the parsed object when the line is a JSON object carrying every key of
    ``EVENT_KEYS`` with values for ``REQUIRED_KEYS``; otherwise ``event`` is None and
    ``error`` says why (ingest sends such a line to its rejects with ``file`` and ``line``).
    """

    file: str  # file name, e.g. "events-2026-11-02.jsonl"
    line: int  # 1-based line number in that file
    raw: str
    event: dict | None
    error: str | None


def read_new(
    directory: Path | str,
    offsets: Mapping[str, Sequence[int]] | None = None,
    *,
    max_bytes: int | None = None,
) -> tuple[list[LandedLine], Offsets]:
    """Every complete line written since ``offsets``, and the offsets to pass next time.

    ``offsets`` maps a file name to ``Position(byte, line)`` (any two-item sequence:
    ``[byte, line]`` from a JSON cursor works); a file it does not name is read from its
    start. Files are read in day order. A last line without ``\\n`` is left for a later
    call. A file shorter than its offset (replaced, not appended to) is read again from
    its start: its lines come back, and ingest's key on ``event_id`` drops the repeats.
    ``max_bytes`` bounds how much one call reads (at least one line is always read when
    there is one), for a backlog larger than memory; call again until nothing comes back.
    Offsets of files that no longer exist are dropped.
    """
    directory = Path(directory)
    before = {name: Position(int(p[0]), int(p[1])) for name, p in (offsets or {}).items()}
    after: Offsets = {}
    lines: list[LandedLine] = []
    budget = max_bytes
    names = sorted(p.name for p in directory.glob("events-*.jsonl") if FILE_PATTERN.match(p.name))
    for name in names:
        start = before.get(name, Position(0, 0))
        path = directory / name
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            continue
        if size < start.byte:
            start = Position(0, 0)
        if budget is not None and budget <= 0 and lines:
            after[name] = start
            continue
        with path.open("rb") as f:
            f.seek(start.byte)
            to_read = size - start.byte
            if budget is not None:
                to_read = min(to_read, max(budget, 1))
            chunk = f.read(to_read)
            if budget is not None and not chunk.endswith(b"\n") and size > start.byte + len(chunk):
                # the budget cut a line: finish that one line, no more
                chunk += f.readline()
        end = chunk.rfind(b"\n") + 1  # 0 when there is no complete line
        number = start.line
        for raw in chunk[:end].split(b"\n")[:-1]:
            number += 1
            lines.append(_parse(name, number, raw))
        after[name] = Position(start.byte + end, number)
        if budget is not None:
            budget -= end
    return lines, after


def _parse(name: str, number: int, raw: bytes) -> LandedLine:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return LandedLine(name, number, raw.decode("utf-8", "replace"), None, f"not UTF-8: {exc}")
    try:
        value = json.loads(text)
    except ValueError as exc:
        return LandedLine(name, number, text, None, f"not JSON: {exc}")
    if not isinstance(value, dict):
        return LandedLine(name, number, text, None, "not a JSON object")
    missing = [k for k in EVENT_KEYS if k not in value]
    if missing:
        return LandedLine(name, number, text, None, f"missing keys: {', '.join(missing)}")
    empty = [k for k in REQUIRED_KEYS if not value.get(k)]
    if empty:
        return LandedLine(name, number, text, None, f"no value for: {', '.join(empty)}")
    return LandedLine(name, number, text, value, None)


def offsets_to_json(offsets: Mapping[str, Position]) -> str:
    """A cursor string for ``offsets`` (Dagster sensor cursors are strings)."""
    return json.dumps({name: list(p) for name, p in sorted(offsets.items())})


def offsets_from_json(cursor: str | None) -> Offsets:
    if not cursor:
        return {}
    return {name: Position(int(b), int(n)) for name, (b, n) in json.loads(cursor).items()}
