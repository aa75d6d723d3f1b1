"""The sandbox gateway: a file-backed SMS provider, like a console e-mail backend.

The default gateway, so ``make demo`` sends without an account. It is a real
httpx transport (``SandboxTransport``), so messages go through the same sender,
retries and rate limits as with Kannel or Twilio; only the wire ends in files.

Files, under ``outbox_dir`` (default ``$SMS_DATA_DIR/sandbox_gateway``):

``outbox.jsonl``: one JSON object per accepted message, written with flush and
fsync before the acceptance is answered, so an accepted message is durable::

    {"id": "SBX3f9a...", "key": "winback|C001|2026-11-02|A", "to": "+4917612345678",
     "from": "Shop", "text": "...", "kind": "marketing", "valid_for_s": 2400,
     "accepted_at": "2026-11-02T09:14:03.512+00:00"}

``receipts.jsonl``: one simulated delivery receipt per accepted message::

    {"id": "SBX3f9a...", "key": "...", "to": "+4917612345678",
     "status": "delivered" | "undelivered" | "failed",
     "outcome": "delivered" | "undelivered" | "invalid_number",
     "error_code": null | "30003" | "30005",
     "event_at": "2026-11-02T09:14:09.512+00:00"}

Outcomes are deterministic from a hash of key and ``seed``: delivered about
95%, undelivered (handset unreachable, 30003) about 3%, invalid number (unknown
handset, 30005) about 2%; ``event_at`` is 2 to 60 s after acceptance. Error
codes follow Twilio's delivery error codes so the outcomes issue can read both.
A message whose validity (``valid_for_s``, the time left in the recipient's
window) is shorter than its simulated delivery delay expires instead, as Twilio
does with ``ValidityPeriod``: status ``failed``, outcome ``expired``, code 30036.

Both files hold full phone numbers and texts: they are created readable and
writable by their owner only (0600), like the webhook receiver's landing log.

The sandbox honours the idempotency key (``Idempotency-Key`` header): a resend
of a key it already accepted answers the original acceptance and writes
nothing. A number that is not E.164 is refused at once (HTTP 400, code 21211).
One process should write an outbox at a time; a later process picks up what an
earlier one wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from .retry import parse_retry_after
from .types import (
    ACCEPTED,
    FAILED,
    OUTCOME_INVALID_NUMBER,
    OutboundMessage,
    RetryLater,
    SendResult,
)

SANDBOX_URL = "http://sandbox.invalid/messages"
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
EXPIRED_CODE = "30036"  # Twilio's "Validity Period Expired"


def _private_append(path: Path):
    """An append-only handle on a file only its owner may read (created 0600)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    return os.fdopen(fd, "ab")


def simulated_outcome(key: str, seed: int) -> tuple[str, str, str | None, float]:
    """(status, outcome, error_code, seconds after acceptance) for a key: stable per seed."""
    digest = hashlib.sha256(f"{seed}|{key}".encode()).digest()
    roll = int.from_bytes(digest[:4], "big") % 10_000
    delay = 2 + int.from_bytes(digest[4:6], "big") % 5_900 / 100
    if roll < 9_500:
        return "delivered", "delivered", None, delay
    if roll < 9_800:
        return "undelivered", "undelivered", "30003", delay
    return "failed", OUTCOME_INVALID_NUMBER, "30005", delay


class SandboxOutbox:
    """The outbox and receipt files, with an index of accepted keys.

    Kept per path for the life of the process; re-read when the file changed
    size behind its back (another process, a deleted outbox).
    """

    _open: dict[Path, SandboxOutbox] = {}
    _guard = threading.Lock()

    @classmethod
    def at(cls, directory: Path, seed: int) -> SandboxOutbox:
        directory = Path(directory).resolve()
        with cls._guard:
            box = cls._open.get(directory)
            if box is None or box.seed != seed:
                box = cls._open[directory] = cls(directory, seed)
            return box

    def __init__(self, directory: Path, seed: int) -> None:
        self.directory = directory
        self.seed = seed
        self.outbox_path = directory / "outbox.jsonl"
        self.receipts_path = directory / "receipts.jsonl"
        self.accepted: dict[str, dict] = {}
        self._size = -1
        self._lock = threading.Lock()

    def _refresh(self) -> None:
        size = self.outbox_path.stat().st_size if self.outbox_path.exists() else 0
        if size == self._size:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        self.accepted = {}
        if self.outbox_path.exists():
            with self.outbox_path.open("rb") as f:
                for line in f:
                    if not line.endswith(b"\n"):
                        break  # torn last line of a crash: never acknowledged
                    record = json.loads(line)
                    self.accepted[record["key"]] = record
        receipted = set()
        if self.receipts_path.exists():
            with self.receipts_path.open("rb") as f:
                receipted = {json.loads(ln)["key"] for ln in f if ln.endswith(b"\n")}
        missing = [r for k, r in self.accepted.items() if k not in receipted]
        if missing:  # accepted just before a crash: the receipt is still owed
            with _private_append(self.receipts_path) as f:
                f.writelines((json.dumps(self._receipt(r)) + "\n").encode() for r in missing)
        self._size = size

    def accept(
        self, key: str, to: str, sender: str, text: str, kind: str, valid_for_s: int | None = None
    ) -> tuple[dict, bool]:
        """Record a message; returns (record, True if it was already accepted)."""
        with self._lock:
            self._refresh()
            known = self.accepted.get(key)
            if known is not None:
                return known, True
            now = datetime.now(UTC)
            record = {
                "id": "SBX" + hashlib.sha256(f"{self.seed}|{key}".encode()).hexdigest()[:29],
                "key": key,
                "to": to,
                "from": sender,
                "text": text,
                "kind": kind,
                "valid_for_s": valid_for_s,
                "accepted_at": now.isoformat(timespec="milliseconds"),
            }
            line = (json.dumps(record, ensure_ascii=False) + "\n").encode()
            with _private_append(self.outbox_path) as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
            self._size += len(line)
            self.accepted[key] = record
            with _private_append(self.receipts_path) as f:
                f.write((json.dumps(self._receipt(record)) + "\n").encode())
            return record, False

    def _receipt(self, record: dict) -> dict:
        status, outcome, code, delay = simulated_outcome(record["key"], self.seed)
        valid_for = record.get("valid_for_s")
        if status == "delivered" and valid_for is not None and delay > valid_for:
            status, outcome, code, delay = "failed", "expired", EXPIRED_CODE, float(valid_for)
        at = datetime.fromisoformat(record["accepted_at"]) + timedelta(seconds=delay)
        return {
            "id": record["id"],
            "key": record["key"],
            "to": record["to"],
            "status": status,
            "outcome": outcome,
            "error_code": code,
            "event_at": at.isoformat(timespec="milliseconds"),
        }


class SandboxTransport(httpx.AsyncBaseTransport):
    """An httpx transport that is the sandbox provider: POST JSON, answer like an API."""

    def __init__(self, outbox_dir: Path | str, seed: int = 0) -> None:
        self.outbox = SandboxOutbox.at(Path(outbox_dir), seed)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return _answer(405, {"code": "405", "message": "POST only"})
        try:
            body = json.loads(await request.aread())
            key = request.headers["Idempotency-Key"]
            to, sender, text = body["to"], body["from"], body["text"]
        except (KeyError, ValueError) as exc:
            return _answer(400, {"code": "400", "message": f"bad request: {exc}"})
        if not _E164.match(to):
            return _answer(400, {"code": "21211", "message": "To is not a valid phone number"})
        validity = body.get("valid_for_s")
        record, duplicate = self.outbox.accept(
            key, to, sender, text, body.get("kind", "marketing"),
            int(validity) if validity is not None else None,
        )  # fmt: skip
        return _answer(200 if duplicate else 201, {"id": record["id"], "duplicate": duplicate})


def _answer(status: int, body: dict) -> httpx.Response:
    return httpx.Response(status, json=body)


@dataclass
class SandboxAdapter:
    outbox_dir: Path
    seed: int = 0
    name: str = "sandbox"
    honours_idempotency_key: bool = True
    min_validity_s: int = 1
    url: str = SANDBOX_URL
    _transport: SandboxTransport | None = field(default=None, repr=False)

    def transport(self) -> SandboxTransport:
        """The transport the client must use (the sandbox has no network endpoint)."""
        if self._transport is None:
            self._transport = SandboxTransport(self.outbox_dir, self.seed)
        return self._transport

    def build_request(self, client: httpx.AsyncClient, msg: OutboundMessage) -> httpx.Request:
        return client.build_request(
            "POST",
            self.url,
            json={
                "to": msg.to,
                "from": msg.sender,
                "text": msg.text,
                "kind": msg.kind,
                "valid_for_s": msg.validity_s,
            },  # fmt: skip
            headers={"Idempotency-Key": msg.key},
        )

    def interpret(self, msg: OutboundMessage, response: httpx.Response) -> SendResult | RetryLater:
        status = response.status_code
        body = response.json() if response.content else {}
        if status in (200, 201):
            return SendResult(msg.key, ACCEPTED, provider_message_id=body.get("id"))
        if status == 429 or status >= 500:
            return RetryLater(
                f"http_{status}",
                body.get("message"),
                parse_retry_after(response.headers.get("Retry-After")),
            )
        code = str(body.get("code") or f"http_{status}")
        return SendResult(
            msg.key,
            FAILED,
            error_code=code,
            error=body.get("message"),
            outcome=OUTCOME_INVALID_NUMBER if code == "21211" else None,
        )
