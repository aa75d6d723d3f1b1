"""Twilio's Messages REST API (``POST /2010-04-01/Accounts/{sid}/Messages.json``).

Form-encoded ``To``, ``From`` (or ``MessagingServiceSid``), ``Body`` and
``StatusCallback``; HTTP Basic auth with the account SID and auth token, which
come from the environment (``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``), never
from code or YAML. A created message answers ``201`` with JSON whose ``sid`` is
the provider message id; an error answers JSON ``{"code": ..., "message": ...}``.

Error mapping (https://www.twilio.com/docs/api/errors):

| answer | result |
| --- | --- |
| 21610 (recipient replied STOP) | failed, outcome ``unsubscribed``: suppress the phone |
| 21211 (invalid To), 21614 (not a mobile number) | failed, outcome ``invalid_number`` |
| 20429 (too many requests), HTTP 429, any 5xx | retry later (``Retry-After`` honoured) |
| any other 4xx | failed, not retried |

Twilio's Messages API has no idempotency key for creating a message: a resend
after an unanswered request can deliver twice. Hence
``honours_idempotency_key = False``, and the ledger reports such a message as
unknown instead of resending it.

``ValidityPeriod`` is the time left in the recipient's window (whole seconds,
1 to 36,000): Twilio queues what it cannot send at once, and a message accepted
at 19:55 must fail (error 30036, "Validity Period Expired") rather than reach the
phone at 21:30.

The idempotency key travels in the ``StatusCallback`` URL (``?key=...``) so the
webhook receiver can match delivery receipts to ledger rows without a lookup by
message SID.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from .retry import parse_retry_after
from .types import (
    ACCEPTED,
    FAILED,
    OUTCOME_INVALID_NUMBER,
    OUTCOME_UNSUBSCRIBED,
    OutboundMessage,
    RetryLater,
    SendResult,
)

TWILIO_API = "https://api.twilio.com"
MAX_VALIDITY_S = 36_000  # Twilio's ceiling (10 hours)

_OUTCOMES = {
    "21610": OUTCOME_UNSUBSCRIBED,
    "21211": OUTCOME_INVALID_NUMBER,
    "21614": OUTCOME_INVALID_NUMBER,
}
_RETRY_CODES = {"20429"}


@dataclass
class TwilioAdapter:
    account_sid: str
    auth_token: str
    base_url: str = TWILIO_API
    status_callback_url: str | None = None
    messaging_service_sid: str | None = None
    name: str = "twilio"
    honours_idempotency_key: bool = False
    min_validity_s: int = 1

    def __post_init__(self) -> None:
        if not self.account_sid or not self.auth_token:
            raise ValueError("Twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        self.url = (
            f"{self.base_url.rstrip('/')}/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        )
        self._url = httpx.URL(self.url)  # parsed once, not per message
        self._callback = httpx.URL(self.status_callback_url) if self.status_callback_url else None
        token = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        self._headers = {
            "Authorization": f"Basic {token}",
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }

    def build_request(self, client: httpx.AsyncClient, msg: OutboundMessage) -> httpx.Request:
        form = {"To": msg.to, "Body": msg.text}
        if self.messaging_service_sid:
            form["MessagingServiceSid"] = self.messaging_service_sid
        else:
            form["From"] = msg.sender
        if msg.validity_s is not None:
            form["ValidityPeriod"] = str(max(1, min(MAX_VALIDITY_S, msg.validity_s)))
        if self._callback is not None:
            form["StatusCallback"] = str(self._callback.copy_merge_params({"key": msg.key}))
        # The form encoded here, as httpx's data= would, minus its per-field type checks.
        body = urlencode(form).encode()
        return client.build_request("POST", self._url, content=body, headers=self._headers)

    def interpret(self, msg: OutboundMessage, response: httpx.Response) -> SendResult | RetryLater:
        status = response.status_code
        body = _json(response)
        if 200 <= status < 300:
            sid = body.get("sid")
            return SendResult(msg.key, ACCEPTED, provider_message_id=str(sid) if sid else None)
        code = str(body["code"]) if body.get("code") is not None else None
        error = str(body.get("message") or response.reason_phrase or f"HTTP {status}")
        if status == 429 or status >= 500 or code in _RETRY_CODES:
            return RetryLater(
                error_code=code or f"http_{status}",
                error=error,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        return SendResult(
            msg.key,
            FAILED,
            error_code=code or f"http_{status}",
            error=error,
            outcome=_OUTCOMES.get(code or ""),
        )


def _json(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
