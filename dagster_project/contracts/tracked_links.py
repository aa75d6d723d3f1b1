"""The link registry: which tracked-link token stands for which message and target.

The contract between dispatch, which registers the links of a batch before the
batch leaves, and the webhook receiver, which answers ``/c/<token>`` with a
redirect to the registered target. It lives outside both (neither may import
the other) and imports neither Dagster nor DuckDB.

File: ``$SMS_DATA_DIR/webhooks/links.jsonl`` (``registry_path()``), one
``{"token", "message_key", "target_url"}`` per line, append only.

* ``append_links(links)`` writes the links the file does not hold yet, in one
  ``O_APPEND`` write under an exclusive ``flock``, then ``fsync``: a link is on
  disk before its message can be sent, and a rerun of the same batch adds
  nothing. Several processes may append at once (on a local file system).
* ``LinkRegistry(path).lookup(token)`` answers ``(message_key, target_url)`` or
  None. It reads only what was appended since its last look (the file's size
  is checked on every lookup), and starts over when the file was replaced.

The first registration of a token wins: a later line cannot move an existing
token to another target. Only ``http`` and ``https`` targets with a host are
registered or redirected to.
"""

from __future__ import annotations

import json
import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from dagster_project import settings
from dagster_project.contracts.durable_files import durable_append

TOKEN_PATTERN = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
FILE_MODE = 0o600


class Link(NamedTuple):
    token: str
    message_key: str
    target_url: str


def registry_path() -> Path:
    """``$SMS_WEBHOOK_DIR/links.jsonl`` (default ``$SMS_DATA_DIR/webhooks/links.jsonl``)."""
    return settings.webhooks_dir() / "links.jsonl"


def valid_target(url: object) -> bool:
    """An absolute http(s) URL with a host and no whitespace or control characters."""
    if not isinstance(url, str) or not url:
        return False
    if any(ch.isspace() or unicodedata.category(ch).startswith("C") for ch in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _as_link(item: Link | Mapping | tuple) -> Link:
    if isinstance(item, Mapping):
        link = Link(item["token"], item["message_key"], item["target_url"])
    else:
        link = Link(*item)
    if not isinstance(link.token, str) or not TOKEN_PATTERN.match(link.token):
        raise ValueError(f"link token {link.token!r} is not 1-64 URL-safe characters")
    if not isinstance(link.message_key, str) or not link.message_key:
        raise ValueError(f"link {link.token}: message_key is empty")
    if not valid_target(link.target_url):
        raise ValueError(f"link {link.token}: target {link.target_url!r} is not an http(s) URL")
    return link


def _parse_line(raw: bytes) -> Link | None:
    try:
        record = json.loads(raw)
        return _as_link(record) if isinstance(record, dict) else None
    except (ValueError, KeyError, TypeError):
        return None  # a bad line is skipped, never redirected to


def append_links(links: Iterable[Link | Mapping | tuple], path: Path | str | None = None) -> int:
    """Register links (``Link``, ``(token, message_key, target_url)`` or a mapping with
    those keys); returns how many were new. Durable when it returns.

    Raises ``ValueError`` for a malformed link (nothing is written then) and for a token
    already registered with another key or target.
    """
    path = Path(path) if path is not None else registry_path()
    wanted: dict[str, Link] = {}
    for item in links:
        link = _as_link(item)
        if wanted.setdefault(link.token, link) != link:
            raise ValueError(f"link token {link.token} given twice with different targets")
    if not wanted:
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    with durable_append(path, FILE_MODE) as out:
        content = out.read_all()
        known: dict[str, Link] = {}
        for raw in content.split(b"\n")[: content.count(b"\n")]:
            link = _parse_line(raw)
            if link is not None:
                known.setdefault(link.token, link)
        new = []
        for token, link in wanted.items():
            if token in known:
                if known[token] != link:
                    raise ValueError(
                        f"link token {token} is registered for another message or target"
                    )
                continue
            new.append(link)
        if new:
            out.write(
                b"".join(
                    json.dumps(link._asdict(), ensure_ascii=False, separators=(",", ":")).encode()
                    + b"\n"
                    for link in new
                )
            )
    return len(new)


class LinkRegistry:
    """Token lookups against the registry file, reloading what was appended. Thread-safe."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else registry_path()
        self._links: dict[str, Link] = {}
        self._offset = 0
        self._identity: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def lookup(self, token: str) -> tuple[str, str] | None:
        """``(message_key, target_url)`` of a registered token, else None."""
        if not isinstance(token, str) or not TOKEN_PATTERN.match(token):
            return None
        with self._lock:
            self._refresh()
            link = self._links.get(token)
        return (link.message_key, link.target_url) if link else None

    def __len__(self) -> int:
        with self._lock:
            self._refresh()
            return len(self._links)

    def _refresh(self) -> None:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            self._links, self._offset, self._identity = {}, 0, None
            return
        identity = (stat.st_dev, stat.st_ino)
        if identity != self._identity or stat.st_size < self._offset:
            self._links, self._offset, self._identity = {}, 0, identity  # replaced: start over
        if stat.st_size == self._offset:
            return
        with self.path.open("rb") as f:
            f.seek(self._offset)
            chunk = f.read(stat.st_size - self._offset)
        end = chunk.rfind(b"\n") + 1
        for raw in chunk[:end].split(b"\n")[:-1]:
            link = _parse_line(raw)
            if link is not None:
                self._links.setdefault(link.token, link)
        self._offset += end
