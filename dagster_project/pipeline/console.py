"""What the command line shows, and where the rest goes.

A run tells its story in a few lines on the terminal; Dagster's step logs, dbt's
node lines and the webhook receiver's output go to a log file under
``$SMS_DATA_DIR/logs/`` (the terminal gets its path). The redirection is at the
file-descriptor level, so a subprocess (dbt, the receiver) writes there too.
``--verbose`` keeps everything on the terminal, as before.

Standard library only: the command line sets this up before importing Dagster.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

# Logs kept under $SMS_DATA_DIR/logs (older ones are deleted).
KEEP_LOGS = 30


class CommandError(Exception):
    """A failure the command explains in its message: printed alone, exit status 1."""


class Console:
    """The terminal (``say``, ``warn``) and, while ``details_to`` is active, the log file."""

    def __init__(self) -> None:
        self.log_path: Path | None = None
        self._out: TextIO | None = None
        self._err: TextIO | None = None

    @property
    def out(self) -> TextIO:
        return self._out or sys.stdout

    @property
    def err(self) -> TextIO:
        return self._err or sys.stderr

    def say(self, text: str = "") -> None:
        """A line for the terminal (and the log, so it reads as one story)."""
        print(text, file=self.out, flush=True)
        if self._out is not None:
            print(text, file=sys.stdout, flush=True)

    def warn(self, text: str) -> None:
        print(text, file=self.err, flush=True)
        if self._err is not None:
            print(text, file=sys.stderr, flush=True)

    def detail(self, text: str = "") -> None:
        """A line for the log only (the terminal when there is no log)."""
        print(text, file=sys.stdout, flush=True)

    @contextmanager
    def details_to(self, path: Path) -> Iterator[Path]:
        """Send file descriptors 1 and 2 (this process and its children) to ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        _prune(path.parent)
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        log = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - closed below
        self._out = os.fdopen(os.dup(saved[0]), "w", buffering=1, encoding="utf-8")
        self._err = os.fdopen(os.dup(saved[1]), "w", buffering=1, encoding="utf-8")
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        self.log_path = path
        try:
            yield path
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            for stream in (self._out, self._err):
                stream.close()
            log.close()
            self._out = self._err = None


def one_line(exc: BaseException) -> str:
    """The error as one line: this project's messages alone, anything else with its type.

    This project's errors (a campaign file's, a lock wait's, a failed run's) are written
    for the person at the terminal and name the file, field and line; a library's error
    keeps its type name and points at the traceback.
    """
    text = " ".join(str(exc).split()).strip()
    if type(exc).__module__.startswith("dagster_project."):
        return text or type(exc).__name__
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    where = f", also in {console.log_path}" if console.log_path else ""
    return f"{type(exc).__name__}: {first} (the traceback: --debug{where})"


def guarded(command: Callable[[], object], *, debug: bool = False, status: int = 1) -> int:
    """Run ``command``; an error becomes one line on standard error and exit ``status``."""
    try:
        command()
    except KeyboardInterrupt:
        warn("interrupted")
        return 130
    except BrokenPipeError:  # the reader (`| head`) has gone: nothing left to tell
        return 141
    except Exception as exc:  # noqa: BLE001 - every error ends as one line and status 1
        if console.log_path:
            traceback.print_exc()  # into the log, whatever happens
        if debug:
            traceback.print_exception(exc, file=console.err)
        warn(one_line(exc))
        return status
    return 0


def log_file(logs_dir: Path, command: str) -> Path:
    return logs_dir / f"pipeline-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{command}.log"


def _prune(logs_dir: Path) -> None:
    for old in sorted(logs_dir.glob("pipeline-*.log"))[:-KEEP_LOGS]:
        old.unlink(missing_ok=True)


console = Console()
say = console.say
warn = console.warn
detail = console.detail
