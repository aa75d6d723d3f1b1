"""A fast, minimal local SMS gateway with injectable faults, for tests and the benchmark.

``GatewayServer`` is a raw HTTP/1.1 server on 127.0.0.1 (asyncio protocol,
keep-alive, one request at a time per connection) that speaks just enough of a
provider to be sent to:

* ``style="twilio"``: ``POST .../Messages.json`` answers ``201 {"sid": ...}``;
  errors as Twilio's JSON ``{"code", "message"}``;
* ``style="kannel"``: ``GET /cgi-bin/sendsms`` answers ``202 0: Accepted for delivery``;
* ``style="plain"``: any request answers ``200 OK`` (a DLR / webhook receiver).

It logs every request it receives (``hits``: arrival time, key, the answer
given, the request's fields), optionally also as JSON lines to ``log_path``
(flushed per line, so a test that kills a sending process reads every key that
reached the gateway). The key is taken from an ``Idempotency-Key`` header, a
``key`` field, or the ``key`` parameter inside ``StatusCallback`` / ``dlr-url``.

Faults (``Faults``), drawn per request from a seeded random source: 429 with a
``Retry-After``, 500, slow answers (the gateway still accepts the message, the
answer just comes late: a client timeout then leaves its fate unknown), and
permanent errors (status and provider code) for numbers with given prefixes.
``max_in_flight`` is the most requests it held at once. ``idempotent=True`` makes the
gateway dedupe on the key (a resend of an accepted key answers the first
acceptance and is not a new send).

Run it in a thread (``with GatewayServer(...) as gw: gw.url``) or as its own
process: ``python tests/support/gateway_servers.py --style twilio [--port 0] [--log F]``
prints ``PORT <n>`` once listening (the benchmark does this).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 400: "Bad Request", 404: "Not Found"}
_REASONS |= {429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"}


@dataclass
class Faults:
    rate_429: float = 0.0
    retry_after: str = "1"  # seconds or an HTTP date, sent as is
    rate_500: float = 0.0
    rate_slow: float = 0.0
    slow_seconds: float = 2.0
    # "To" prefix -> (HTTP status, provider error code): permanent answers for those numbers
    errors_by_prefix: dict[str, tuple[int, str]] = field(default_factory=dict)
    seed: int = 0


@dataclass
class Hit:
    at: float  # time.monotonic() on arrival
    key: str | None
    status: int  # the answer given (a slow answer is logged on arrival, with its status)
    fields: dict = field(default_factory=dict)
    duplicate: bool = False
    headers: dict = field(default_factory=dict)
    method: str = ""
    path: str = ""


class GatewayServer:
    def __init__(
        self,
        faults: Faults | None = None,
        *,
        style: str = "twilio",
        idempotent: bool = False,
        log_path: Path | str | None = None,
        port: int = 0,
        keep_fields: bool = True,
    ) -> None:
        if style not in ("twilio", "kannel", "plain"):
            raise ValueError(style)
        self.faults = faults or Faults()
        self.style = style
        self.idempotent = idempotent
        self.keep_fields = keep_fields
        self.port = port
        self.hits: list[Hit] = []
        self.accepted: dict[str, str] = {}  # key -> provider id
        self._rng = random.Random(self.faults.seed)
        self._log = open(log_path, "a", buffering=1, encoding="utf-8") if log_path else None  # noqa: SIM115
        self._counter = 0
        self._headers: dict[str, str] = {}
        self._request = ("", "")
        self.in_flight = 0
        self.max_in_flight = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None

    # -- what a test reads -------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def keys(self) -> Counter:
        """How often each key reached the gateway (any answer)."""
        return Counter(h.key for h in self.hits)

    def sends(self) -> Counter:
        """How often each key was accepted as a new message (what a handset would get)."""
        return Counter(h.key for h in self.hits if 200 <= h.status < 300 and not h.duplicate)

    # -- lifecycle ----------------------------------------------------------
    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._server = await loop.create_server(
            lambda: _Connection(self), "127.0.0.1", self.port, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]

    def start(self) -> GatewayServer:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.serve())
            ready.set()
            loop.run_forever()
            self._server.close()
            loop.run_until_complete(self._server.wait_closed())
            loop.close()

        self._thread = threading.Thread(target=run, name="gateway-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("gateway server did not start")
        return self

    def stop(self) -> None:
        if self._loop and self._thread:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        if self._log:
            self._log.close()

    def __enter__(self) -> GatewayServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- one request -----------------------------------------------------------
    def handle(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes, float]:
        """(status, extra headers, body, delay in seconds) for one request."""
        arrived = time.monotonic()
        split = urlsplit(target)
        fields = dict(parse_qsl(split.query, keep_blank_values=True))
        if body and "json" in headers.get("content-type", ""):
            fields |= json.loads(body)
        elif body:
            fields |= dict(parse_qsl(body.decode(), keep_blank_values=True))
        key = _key_of(headers, fields)
        self._headers = headers
        self._request = (method, split.path)
        if self.style == "plain":
            return self._log_hit(arrived, key, 200, fields, False, b"OK", {}, 0.0)
        f = self.faults
        roll = self._rng.random()
        to = fields.get("To") or fields.get("to") or ""
        for prefix, (status, code) in f.errors_by_prefix.items():
            if to.startswith(prefix):
                return self._error(arrived, key, fields, status, code, f"error {code}")
        if roll < f.rate_429:
            return self._error(
                arrived, key, fields, 429, "20429", "Too Many Requests",
                {"Retry-After": f.retry_after},
            )  # fmt: skip
        roll -= f.rate_429
        if roll < f.rate_500:
            return self._error(arrived, key, fields, 500, "20500", "Internal Server Error")
        roll -= f.rate_500
        delay = f.slow_seconds if roll < f.rate_slow else 0.0
        duplicate = bool(self.idempotent and key in self.accepted)
        if duplicate:
            sid = self.accepted[key]
        else:
            self._counter += 1
            sid = f"SM{self._counter:032x}"
            if key is not None:
                self.accepted.setdefault(key, sid)
        if self.style == "kannel":
            return self._log_hit(
                arrived, key, 202, fields, duplicate, b"0: Accepted for delivery", {}, delay
            )
        payload = json.dumps({"sid": sid, "status": "queued", "to": to}).encode()
        status = 200 if duplicate else 201
        ctype = {"Content-Type": "application/json"}
        return self._log_hit(arrived, key, status, fields, duplicate, payload, ctype, delay)

    def _error(self, arrived, key, fields, status, code, message, extra=None):
        if self.style == "kannel":
            payload = message.encode()
            headers = dict(extra or {})
        else:
            payload = json.dumps({"code": int(code), "message": message, "status": status}).encode()
            headers = {"Content-Type": "application/json", **(extra or {})}
        return self._log_hit(arrived, key, status, fields, False, payload, headers, 0.0)

    def _log_hit(self, arrived, key, status, fields, duplicate, payload, headers, delay):
        hit = Hit(arrived, key, status, fields if self.keep_fields else {}, duplicate)
        if self.keep_fields:
            hit.headers, hit.method, hit.path = self._headers, *self._request
        self.hits.append(hit)
        if self._log:
            self._log.write(
                json.dumps({"at": arrived, "key": key, "status": status, "duplicate": duplicate})
                + "\n"
            )
        return status, headers, payload, delay


def _key_of(headers: dict[str, str], fields: dict) -> str | None:
    if "idempotency-key" in headers:
        return headers["idempotency-key"]
    if "key" in fields:
        return _unquote_kannel(fields["key"])
    for name in ("StatusCallback", "dlr-url"):
        if name in fields:
            nested = dict(parse_qsl(urlsplit(fields[name]).query, keep_blank_values=True))
            if "key" in nested:
                return _unquote_kannel(nested["key"])
    return None


def _unquote_kannel(text: str) -> str:
    from dagster_project.activation.gateway import unquote_dlr_key

    return unquote_dlr_key(text) if "~" in text else text


class _Connection(asyncio.Protocol):
    def __init__(self, server: GatewayServer) -> None:
        self.server = server
        self.buf = bytearray()
        self.busy = False
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc) -> None:
        self.transport = None

    def data_received(self, data: bytes) -> None:
        self.buf += data
        if not self.busy:
            self._process()

    def _process(self) -> None:
        while not self.busy and self.transport is not None:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self.buf[:end]).decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buf) < end + 4 + length:
                return
            body = bytes(self.buf[end + 4 : end + 4 + length])
            del self.buf[: end + 4 + length]
            close = headers.get("connection", "").lower() == "close"
            server = self.server
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
            status, extra, payload, delay = server.handle(method, target, headers, body)
            if delay > 0:
                self.busy = True
                asyncio.get_running_loop().call_later(
                    delay, self._respond, status, extra, payload, close, True
                )
                return
            self._respond(status, extra, payload, close, False)

    def _respond(self, status, extra, payload, close, resume) -> None:
        self.server.in_flight -= 1
        if self.transport is None:
            return
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
        head += [f"{k}: {v}" for k, v in extra.items()]
        head.append(f"Content-Length: {len(payload)}")
        if close:
            head.append("Connection: close")
        self.transport.write(("\r\n".join(head) + "\r\n\r\n").encode() + payload)
        if close:
            self.transport.close()
            return
        if resume:
            self.busy = False
            self._process()


def main() -> None:
    p = argparse.ArgumentParser(description="a minimal local SMS gateway")
    p.add_argument("--style", default="twilio", choices=["twilio", "kannel", "plain"])
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--log", type=Path)
    a = p.parse_args()
    server = GatewayServer(style=a.style, port=a.port, log_path=a.log, keep_fields=False)

    async def run() -> None:
        await server.serve()
        print(f"PORT {server.port}", flush=True)
        await asyncio.Event().wait()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
