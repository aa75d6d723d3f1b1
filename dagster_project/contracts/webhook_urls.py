"""Where providers reach the webhook receiver, and the secret in those URLs.

Shared by the receiver (which checks the secret) and dispatch (which puts the
receiver's URL in each Kannel message's ``dlr-url``), so it imports neither.

``SMS_WEBHOOK_SECRET``
    the token in Kannel's ``dlr-url``/``get-url`` and the sandbox callbacks; unset, a
    random one kept in ``$SMS_DATA_DIR/.webhook_secret`` (mode 0600).
``SMS_WEBHOOK_HOST``, ``SMS_WEBHOOK_PORT``
    where the receiver listens: ``127.0.0.1``, ``8088``.
``SMS_WEBHOOK_PUBLIC_URL``
    the base URL providers call (behind a proxy); unset, ``http://<host>:<port>``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

from dagster_project import settings

WEBHOOK_SECRET_ENV = "SMS_WEBHOOK_SECRET"
SECRET_FILE = ".webhook_secret"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8088


def webhook_secret() -> str:
    """``SMS_WEBHOOK_SECRET``; unset, a random secret made once for this data folder.

    The file is written whole under a temporary name and linked into place, so two
    processes starting at once agree on one secret and nobody reads a half-written one.
    """
    value = os.environ.get(WEBHOOK_SECRET_ENV, "").strip()
    if value:
        return value
    return _secret_file(settings.data_dir() / SECRET_FILE)


def _secret_file(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(FileExistsError):  # another process won: use theirs
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_text().strip()


def host() -> str:
    return os.environ.get("SMS_WEBHOOK_HOST", DEFAULT_HOST)


def port() -> int:
    return int(os.environ.get("SMS_WEBHOOK_PORT", DEFAULT_PORT))


def public_url() -> str | None:
    """``SMS_WEBHOOK_PUBLIC_URL`` without a trailing slash, or None."""
    value = os.environ.get("SMS_WEBHOOK_PUBLIC_URL", "").strip().rstrip("/")
    return value or None


def base_url() -> str:
    """The public URL when set, else where ``make webhooks`` listens."""
    return public_url() or f"http://{host()}:{port()}"


def kannel_dlr_url(secret: str | None = None, base: str | None = None) -> str:
    """The receiver's delivery-report URL for Kannel's ``dlr-url`` (the adapter appends
    ``?key=...&status=%d...``). ``base`` defaults to ``base_url()``."""
    return f"{(base or base_url()).rstrip('/')}/kannel/dlr/{secret or webhook_secret()}"


def kannel_inbound_url(secret: str | None = None, base: str | None = None) -> str:
    """The ``get-url`` of Kannel's ``sms-service`` for replies, with Kannel's escapes.

    ``%b`` is the message's bytes as they came (``%a`` would split them at every
    whitespace byte, which garbles UCS-2) and ``%C`` their charset (UTF-16BE for a
    UCS-2 reply, as a Turkish İ makes it), so the receiver can decode any reply.
    """
    return (
        f"{(base or base_url()).rstrip('/')}/kannel/inbound/{secret or webhook_secret()}"
        "?from=%p&to=%P&text=%b&charset=%C&at=%t&id=%I"
    )
