"""What the receiver logs, and what it keeps out of its logs.

One line per stored event with the phone masked (``+49••••••••67``), never a reply's
text (logger ``dagster_project.webhooks``); one access-log line per request (logger
``dagster_project.webhooks.access``) with the path's secret and the whole query left
out, because phones travel in Kannel's query strings.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dagster_project.lib.phones import mask_phone

logger = logging.getLogger("dagster_project.webhooks")
access_logger = logging.getLogger("dagster_project.webhooks.access")


def log_event(event: dict) -> None:
    if event["event_type"] == "status":
        logger.info(
            "%s status %s (%s) key=%s phone=%s",
            event["source"], event["status"], event["provider_status"],
            event["message_key"], mask_phone(event["phone"]) or "-",
        )  # fmt: skip
    elif event["event_type"] == "inbound":
        logger.info(
            "%s inbound from %s: %s%s",
            event["source"], mask_phone(event["phone"]) or "-",
            event["action"] or "free reply",
            f" ({event['keyword']}, replied)" if event["reply_text"] else "",
        )  # fmt: skip
    else:
        logger.info("click %s key=%s", event["token"], event["message_key"])


class AccessLog:
    """One access-log line per request: method, path with secrets and query left out,
    status, milliseconds. Phones travel in Kannel's query strings, so no query is logged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            access_logger.info(
                "%s %s %d %.1fms",
                scope["method"], redact_path(scope["path"]), status,
                (time.perf_counter() - started) * 1000,
            )  # fmt: skip


def redact_path(path: str) -> str:
    """``/kannel/dlr/<secret>`` -> ``/kannel/dlr/***``; ``/c/<token>`` keeps 4 characters."""
    parts = path.split("/")
    if len(parts) >= 4 and parts[1] == "kannel":
        parts[3] = "***"
    elif len(parts) >= 3 and parts[1] == "sandbox":
        parts[2] = "***"
    elif len(parts) >= 3 and parts[1] == "c":
        parts[2] = parts[2][:4] + "…"
    return "/".join(parts)
