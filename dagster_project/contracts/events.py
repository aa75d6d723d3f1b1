"""What one callback becomes: a landing-log record (``docs/outcomes.md``). Pure.

Every record has every key of ``EVENT_KEYS`` (``None`` where it does not
apply). ``event_id`` is the sha256 (first 32 hex digits) of the event's
identity, so a provider's retry of the same callback gets the same id and
ingest keeps one row; the receiver itself does not deduplicate (it keeps no
state between requests, so several workers can share one log).

Identity per event type:

* status: source, message key (else provider message id), the provider's own
  status word, error code, provider time;
* inbound: source and provider message id; without an id, phone, text and
  provider time;
* click: a random uuid: every click counts.

Status words, normalized (``queued`` < ``sent`` < ``delivered`` =
``undelivered`` = ``failed``):

* Kannel report types: 1 delivered, 2 undelivered, 4 queued, 8 sent (accepted
  by the SMSC), 16 failed (rejected by the SMSC);
* Twilio ``MessageStatus``: accepted, scheduled, queued, sending -> queued;
  sent -> sent; delivered -> delivered; undelivered -> undelivered; failed ->
  failed. Anything else (canceled, read, receiving, ...) keeps ``status``
  null and its word in ``provider_status``: recorded, never guessed;
* sandbox receipts already use the normalized words.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime

EVENT_KEYS = (
    "event_id",
    "received_at",
    "occurred_at",
    "source",
    "event_type",
    "message_key",
    "provider_message_id",
    "status",
    "provider_status",
    "error_code",
    "phone",
    "our_number",
    "text",
    "keyword",
    "action",
    "language",
    "reply_text",
    "token",
    "target_url",
    "user_agent",
)
# Keys a line must carry a value for to be an event at all (ingest rejects the rest).
REQUIRED_KEYS = ("event_id", "received_at", "source", "event_type")

SOURCES = ("twilio", "kannel", "sandbox", "link")
EVENT_TYPES = ("status", "inbound", "click")
STATUSES = ("queued", "sent", "delivered", "undelivered", "failed")
STATUS_RANK = {"queued": 1, "sent": 2, "delivered": 3, "undelivered": 3, "failed": 3}

KANNEL_STATUS = {"1": "delivered", "2": "undelivered", "4": "queued", "8": "sent", "16": "failed"}
TWILIO_STATUS = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
}

MAX_FIELD = 2000  # longest value kept from a provider field (a concatenated SMS is ~1,600)


def now_iso() -> str:
    return iso(datetime.now(UTC))


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds: ``2026-11-02T09:14:03.512+00:00``."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def event_id(*identity: object) -> str:
    payload = json.dumps([None if v is None else str(v) for v in identity], ensure_ascii=False)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def _clip(value: object) -> str | None:
    if value is None:
        return None
    text = str(value)
    return text[:MAX_FIELD] if text else None


def _base(source: str, event_type: str, received_at: str | None) -> dict:
    event = dict.fromkeys(EVENT_KEYS)
    event.update(source=source, event_type=event_type, received_at=received_at or now_iso())
    return event


def status_event(
    source: str,
    *,
    message_key: str | None,
    provider_message_id: str | None,
    status: str | None,
    provider_status: str | None,
    error_code: str | None = None,
    phone: str | None = None,
    our_number: str | None = None,
    occurred_at: str | None = None,
    received_at: str | None = None,
) -> dict:
    event = _base(source, "status", received_at)
    event.update(
        occurred_at=occurred_at,
        message_key=_clip(message_key),
        provider_message_id=_clip(provider_message_id),
        status=status if status in STATUSES else None,
        provider_status=_clip(provider_status),
        error_code=_clip(error_code),
        phone=_clip(phone),
        our_number=_clip(our_number),
    )
    event["event_id"] = event_id(
        source,
        "status",
        event["message_key"] or event["provider_message_id"],
        event["provider_status"],
        event["error_code"],
        occurred_at,
    )
    return event


def inbound_event(
    source: str,
    *,
    provider_message_id: str | None,
    phone: str | None,
    our_number: str | None,
    text: str | None,
    action: str | None,
    keyword: str | None,
    language: str | None,
    reply_text: str | None,
    occurred_at: str | None = None,
    received_at: str | None = None,
) -> dict:
    event = _base(source, "inbound", received_at)
    event.update(
        occurred_at=occurred_at,
        provider_message_id=_clip(provider_message_id),
        phone=_clip(phone),
        our_number=_clip(our_number),
        text=_clip(text),
        action=action,
        keyword=keyword,
        language=language,
        reply_text=reply_text,
    )
    if event["provider_message_id"]:
        identity = (source, "inbound", event["provider_message_id"])
    else:
        identity = (source, "inbound", None, event["phone"], event["text"], occurred_at)
    event["event_id"] = event_id(*identity)
    return event


def click_event(
    *,
    token: str,
    message_key: str,
    target_url: str,
    user_agent: str | None,
    received_at: str | None = None,
    occurred_at: str | None = None,
) -> dict:
    event = _base("link", "click", received_at)
    event.update(
        occurred_at=occurred_at,
        message_key=message_key,
        token=token,
        target_url=target_url,
        user_agent=_clip(user_agent),
    )
    event["event_id"] = event_id("link", "click", uuid.uuid4().hex)
    return event


# --- the providers' own time formats ----------------------------------------------


def from_unix(value: str | None) -> str | None:
    """Kannel ``%T`` (seconds since the epoch) -> ISO UTC; None when absent or not a number."""
    if not value:
        return None
    try:
        return iso(datetime.fromtimestamp(int(value), UTC))
    except (ValueError, OverflowError, OSError):
        return None


def from_kannel_time(value: str | None) -> str | None:
    """Kannel ``%t`` (``2026-11-02+09:14:03`` in UTC; the ``+`` arrives as a space) -> ISO."""
    if not value:
        return None
    text = value.strip().replace("+", " ").replace("T", " ")
    try:
        return iso(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC))
    except ValueError:
        return None


def from_iso(value: object) -> str | None:
    """An ISO 8601 time with an offset (sandbox ``event_at``) -> ISO UTC; None otherwise."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None  # a time without an offset is not a point in time
    return iso(moment)
