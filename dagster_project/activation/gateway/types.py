"""What crosses the gateway wall: a message out, a final result back, and the adapter contract.

Plain dataclasses and a ``Protocol``; nothing here knows a campaign, a segment
or the warehouse. The ledger builds ``OutboundMessage`` rows and stores
``SendResult`` rows; adapters translate between these and one provider's HTTP.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

import httpx

# Final states a send can end in. "unknown" means the request may have reached
# the gateway but no answer came back: the ledger must not resend it unless the
# adapter honours the idempotency key.
ACCEPTED = "accepted"
FAILED = "failed"
UNKNOWN = "unknown"
FINAL_STATES = frozenset({ACCEPTED, FAILED, UNKNOWN})

# What the ledger and the suppression list must learn from a failure.
OUTCOME_INVALID_NUMBER = "invalid_number"
OUTCOME_UNSUBSCRIBED = "unsubscribed"
# Never sent: the recipient's window closed before the message could leave (it waited
# for its rate or a retry). The ledger defers it to the next window.
WINDOW_CLOSED = "window_closed"


@dataclass(frozen=True)
class OutboundMessage:
    key: str  # idempotency key: campaign|customer|day|variant, unique per message
    to: str  # E.164
    sender: str  # sender id / from number for the recipient's country
    text: str
    kind: str = "marketing"  # or "transactional"
    # When the recipient's window closes (UTC, the wall clock): the provider must drop the
    # message rather than deliver it later (Twilio ValidityPeriod, Kannel validity).
    expires_at: datetime | None = None
    # Seconds left until expires_at, set by the sender right before each request.
    validity_s: int | None = None


@dataclass(frozen=True)
class SendResult:
    key: str
    state: str  # "accepted" | "failed" | "unknown" (final states only)
    provider_message_id: str | None = None
    error_code: str | None = None
    error: str | None = None
    outcome: str | None = None  # "invalid_number" | "unsubscribed" | None
    attempts: int = 1

    def __post_init__(self) -> None:
        if self.state not in FINAL_STATES:
            raise ValueError(f"not a final state: {self.state!r}")


@dataclass(frozen=True)
class RetryLater:
    """A transient answer (429, 5xx, a provider's "too many requests" code).

    ``retry_after`` is the provider's own wait in seconds when it named one
    (``Retry-After``); the sender waits at least that long.
    """

    error_code: str | None = None
    error: str | None = None
    retry_after: float | None = None


@runtime_checkable
class GatewayAdapter(Protocol):
    """Knows one provider's HTTP interface, nothing of campaigns or the warehouse."""

    name: str
    # True only when a resend of a key the gateway already accepted is a no-op
    # there; then a message whose fate is unknown may be sent again.
    honours_idempotency_key: bool
    # The shortest validity the provider can express: with less time left in the
    # recipient's window the message is not sent (WINDOW_CLOSED).
    min_validity_s: int

    def build_request(self, client: httpx.AsyncClient, msg: OutboundMessage) -> httpx.Request: ...

    def interpret(
        self, msg: OutboundMessage, response: httpx.Response
    ) -> SendResult | RetryLater: ...
