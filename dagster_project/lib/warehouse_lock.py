"""The warehouse's writer lock: one exclusive advisory lock file beside the DuckDB file.

DuckDB lets one process write a file; a second writer fails at once ("Could not
set lock on file"). The Dagster instance queues the runs it launches, but the
command line (``python -m dagster_project.pipeline``) runs in its own process,
outside that queue, and dbt opens the file from a subprocess of its own. So every
pipeline writer takes this lock first: the command line for its whole command, a
Dagster run for its whole run, the dbt build around dbt. A second writer waits
its turn and says whom it waits for (PID, command, since when). Readers of the
published copy never take it.

The lock is ``flock`` on ``<warehouse>.lock``: the kernel releases it when its
holder exits, however it exits, so a crash never leaves a stale lock. Within one
process it is re-entrant (the command line holds it while its runs' steps take
it again). Standard library only: the command line takes it before importing
Dagster.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

Say = Callable[[str], object]

# How often a waiting writer repeats that it is still waiting.
REMIND_EVERY_S = 60.0


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as its holder wrote it into the lock file."""

    pid: int | None = None
    since: str | None = None
    what: str | None = None

    def describe(self) -> str:
        if self.pid is None:
            return "another process (it has not written its name yet)"
        what = f" ({self.what})" if self.what else ""
        since = f" since {self.since}" if self.since else ""
        return f"PID {self.pid}{what}{since}"


class WarehouseLockTimeout(TimeoutError):
    """Waited the allowed time for another writer; the message says who holds the lock."""


def lock_path(warehouse: str | Path) -> Path:
    warehouse = Path(warehouse)
    return warehouse.with_name(warehouse.name + ".lock")


def read_holder(path: Path) -> Holder:
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return Holder()
    return Holder(data.get("pid"), data.get("since"), data.get("what"))


def this_process() -> str:
    """How the running process was started, short enough for one line."""
    argv = sys.argv or ["python"]
    text = " ".join([Path(argv[0]).name, *argv[1:]]).strip()
    return text if len(text) <= 120 else text[:117] + "..."


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


_guard = threading.Lock()
_held: dict[Path, list] = {}  # lock file -> [fd, depth], for re-entry within this process


def holds(warehouse: str | Path) -> bool:
    """True when this process holds the warehouse's lock."""
    with _guard:
        return lock_path(warehouse).resolve() in _held


def _try_enter(path: Path) -> bool:
    with _guard:
        if path in _held:
            _held[path][1] += 1
            return True
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return False
    except BaseException:
        os.close(fd)
        raise
    with _guard:
        _held[path] = [fd, 1]
    return True


def _stamp(path: Path, what: str) -> None:
    fd = _held[path][0]
    record = json.dumps({"pid": os.getpid(), "since": _now_text(), "what": what})
    os.ftruncate(fd, 0)
    os.pwrite(fd, record.encode(), 0)


def _leave(path: Path) -> None:
    with _guard:
        entry = _held[path]
        entry[1] -= 1
        if entry[1]:
            return
        del _held[path]
    fd = entry[0]
    try:
        os.ftruncate(fd, 0)  # nobody holds it now: a reader must not name the last holder
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextmanager
def warehouse_lock(
    warehouse: str | Path,
    *,
    timeout_s: float | None,
    what: str | None = None,
    say: Say | None = None,
    poll_s: float = 0.2,
) -> Iterator[None]:
    """Hold the warehouse's writer lock; wait (saying so) up to ``timeout_s``, None: no limit.

    ``what`` is written for waiters to read (default: this process's command line);
    ``say`` receives the waiting messages (default: standard error).
    """
    say = say or (lambda text: print(text, file=sys.stderr, flush=True))
    path = lock_path(warehouse).resolve()
    began = time.monotonic()
    reminded = None
    while not _try_enter(path):
        waited = time.monotonic() - began
        holder = read_holder(path)
        if timeout_s is not None and waited >= timeout_s:
            raise WarehouseLockTimeout(
                f"gave up after {waited:.0f} s waiting for the warehouse lock ({path}) "
                f"held by {holder.describe()}"
            )
        if reminded is None:
            limit = "" if timeout_s is None else f" (up to {timeout_s:.0f} s)"
            say(f"waiting for the warehouse lock held by {holder.describe()}{limit}")
            reminded = time.monotonic()
        elif time.monotonic() - reminded >= REMIND_EVERY_S:
            say(
                f"still waiting ({waited:.0f} s) for the warehouse lock held by {holder.describe()}"
            )
            reminded = time.monotonic()
        time.sleep(poll_s)
    try:
        with _guard:
            outermost = _held[path][1] == 1
        if outermost:
            _stamp(path, what or this_process())
        if reminded is not None:
            say(f"got the warehouse lock after {time.monotonic() - began:.1f} s")
        yield
    finally:
        _leave(path)
