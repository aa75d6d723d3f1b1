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

import os
from pathlib import Path


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
