"""Append-only line files that survive a crash: the webhook landing log and the link registry.

Both are written by several processes at once (``O_APPEND`` descriptors, an
exclusive ``flock`` around each write) and read by others that take only
complete lines. The two rules they share live here:

* a torn last line left by a writer that died mid-line is ended with ``\\n``
  before the next write, so it becomes one unreadable line instead of
  swallowing the next (acknowledged) one;
* a new file's directory entry is fsync'd too, or a crash could lose the file.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

OPEN_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC


class LockedAppend:
    """An ``O_APPEND`` descriptor under an exclusive ``flock``: read what is there, append lines."""

    def __init__(self, fd: int, path: Path) -> None:
        self.fd = fd
        self.path = path

    def read_all(self) -> bytes:
        with open(self.fd, "rb", closefd=False) as f:
            f.seek(0)
            return f.read()

    def write(self, data: bytes) -> None:
        write_locked(self.fd, data, self.path)


@contextmanager
def durable_append(path: Path, mode: int, *, created: bool | None = None) -> Iterator[LockedAppend]:
    """Open ``path`` for appending under an exclusive lock; on a clean exit the lock is
    released, then the file is fsync'd, then (for a file this call created) its folder.

    The folder must exist. ``created`` overrides the check for whether the file is new
    (a caller that caches known files knows better than a racy ``exists()``). Raises
    ``OSError`` when the data may not be on disk: the caller must not acknowledge it.
    """
    if created is None:
        created = not path.exists()
    fd = os.open(path, OPEN_FLAGS, mode)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield LockedAppend(fd, path)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        # After the unlock: concurrent appenders share the disk's flushes.
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        # A new file's name must be durable too, or a crash could lose the whole file.
        fsync_directory(path.parent)


def write_locked(fd: int, data: bytes, path: Path) -> None:
    """Write whole lines to an ``O_APPEND`` descriptor whose ``flock`` the caller holds.

    Raises ``OSError`` on a short write (a full disk), after ending the fragment
    so the next line stays whole; the caller must then not acknowledge anything.
    """
    size = os.fstat(fd).st_size
    if size and os.pread(fd, 1, size - 1) != b"\n":
        os.write(fd, b"\n")
    written = os.write(fd, data)
    if written != len(data):
        os.write(fd, b"\n")
        raise OSError(f"short write to {path}: {written} of {len(data)} bytes")


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
