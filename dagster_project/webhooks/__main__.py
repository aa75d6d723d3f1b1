"""``python -m dagster_project.webhooks`` (``make webhooks``): the receiver under uvicorn.

Listens on ``SMS_WEBHOOK_HOST``:``SMS_WEBHOOK_PORT`` (127.0.0.1:8088), or on
``--host``/``--port``; ``--port 0`` takes a free port. Prints one line
``listening on http://HOST:PORT`` once the socket is bound (tests read it).
uvicorn's own access log is off (it would print Kannel's query strings, which
carry phone numbers); the receiver's access log leaves queries and secrets
out, and every log line passes a filter that masks anything shaped like a
phone number. The settings are read once, here: a bad ``replies.yml`` stops
the start with the file and field named.
"""

from __future__ import annotations

import argparse
import logging
import re
import socket
import sys

import uvicorn

from dagster_project.contracts import webhook_urls
from dagster_project.lib.phones import mask_phone

from .app import create_app
from .config import WebhookSettings
from .replies import RepliesError

# +4917612345678, %2B4917612345678 (URL-encoded), 004917612345678
_PHONE = re.compile(r"(?:\+|%2[bB]|\b00)[1-9]\d{6,14}\b")


class MaskPhones(logging.Filter):
    """Masks anything shaped like an international phone number in a log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _PHONE.sub(lambda m: mask_phone(m.group(0).replace("%2B", "+")), message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskPhones())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dagster_project.webhooks", description=__doc__)
    parser.add_argument("--host", default=webhook_urls.host())
    parser.add_argument("--port", type=int, default=webhook_urls.port())
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    configure_logging(args.log_level.upper())
    try:
        settings = WebhookSettings.from_env()
    except (RepliesError, ValueError) as exc:
        print(f"webhooks: {exc}", file=sys.stderr)
        return 2
    if not settings.twilio_auth_token:
        logging.getLogger("dagster_project.webhooks").warning(
            "TWILIO_AUTH_TOKEN is not set: the Twilio endpoints answer 403"
        )
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(2048)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if family == socket.AF_INET6 else host
    print(f"listening on http://{shown}:{port}", flush=True)
    config = uvicorn.Config(
        create_app(settings),
        access_log=False,
        log_config=None,  # keep the handlers configured above (with the phone mask)
        log_level=args.log_level.lower(),
        proxy_headers=False,  # the URL Twilio signed comes from SMS_WEBHOOK_PUBLIC_URL
        server_header=False,
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
