"""The one async sender every adapter uses: rate, concurrency, retries, a final state each.

``send_all`` pushes a batch of ``OutboundMessage`` through a ``GatewayAdapter``
over one shared ``httpx.AsyncClient``:

* at most ``concurrency`` requests in flight (a semaphore);
* a token bucket per sender id, so a long code is held to its 1 msg/s while a
  short code in the same batch runs at 100 (``sender_rates`` overrides
  ``rate_per_second`` per sender); each sender is fed by its own coroutine, so a
  slow sender never blocks a fast one's messages;
* retries with exponential backoff and full jitter on connect errors and
  timeouts, on 429 (waiting at least ``Retry-After``, seconds or HTTP date) and
  on 5xx; never on a permanent error (what ``adapter.interpret`` says is final);
* exactly one final ``SendResult`` per message, in input order.

What "final" means when answers run out (the ledger's crash rules rest on it):

* the request certainly never reached the gateway (connect error, connect or
  pool timeout) -> retried; after ``max_attempts`` ``failed``;
* the gateway answered with an error -> ``failed`` (permanent at once,
  transient after ``max_attempts``);
* the request may have reached the gateway but no answer came back (read or
  write timeout, connection dropped mid-request) -> retried only when the
  adapter honours the idempotency key; otherwise ``unknown`` at once, because a
  resend could deliver the same message twice. After ``max_attempts`` such a
  message is ``unknown`` either way.

Pure pieces (``TokenBucket``'s arithmetic, ``backoff_delay``,
``parse_retry_after``) take an injectable clock, sleep and random source so the
tests can pin them. Phones are masked in every log line.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

import httpx

from dagster_project.lib.phones import mask_phone

from .retry import backoff_delay
from .types import (
    FAILED,
    UNKNOWN,
    WINDOW_CLOSED,
    GatewayAdapter,
    OutboundMessage,
    RetryLater,
    SendResult,
)

# httpx logs every request line at INFO; a Kannel sendsms URL carries the sendsms
# password and the recipient's phone in its query. Whatever captures INFO logs
# (Dagster's managed loggers, a root handler at INFO) must never see them.
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)

log = logging.getLogger(__name__)


class _RedactQuery(logging.Filter):
    """httpx logs every request URL at INFO; Kannel's carries the phone and the password."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > 1 and isinstance(args[1], httpx.URL):
            record.args = (args[0], args[1].copy_with(query=None), *args[2:])
        return True


if not any(isinstance(f, _RedactQuery) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(_RedactQuery())

# Carrier throughput per sender type (US figures; configure per sender id).
LONG_CODE_RATE = 1.0
TOLL_FREE_RATE = 3.0
SHORT_CODE_RATE = 100.0

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
WallClock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


# Transport errors after which the request certainly did not reach the gateway.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


class Bucket(Protocol):
    """What the sender asks of a rate limiter: wait for the next token."""

    async def acquire(self) -> None: ...


class TokenBucket:
    """``rate`` tokens a second, at most ``burst`` saved up; one token per request.

    Reservation style: ``acquire`` takes its token at once (the balance may go
    negative) and sleeps until that token is due. Callers are therefore served
    in arrival order without a lock, and oversleeping never accumulates drift:
    each token's due time follows from the bucket's state, not from when the
    previous caller woke up. ``burst=1`` spaces requests evenly, which is what a
    carrier's per-second throughput means. A rate of 0 or infinity means no limit.
    """

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.rate = float(rate)
        self.burst = max(1.0, float(burst))
        self.unlimited = not (0 < self.rate < math.inf)
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()

    def reserve(self) -> float:
        """Take one token; returns how long the caller must wait before using it."""
        if self.unlimited:
            return 0.0
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await self._sleep(wait)


async def send_all(
    adapter: GatewayAdapter,
    messages: Sequence[OutboundMessage],
    *,
    client: httpx.AsyncClient,
    rate_per_second: float,
    concurrency: int = 32,
    max_attempts: int = 5,
    base_backoff: float = 0.5,
    max_backoff: float = 30.0,
    max_retry_after: float = 300.0,
    sender_rates: Mapping[str, float] | None = None,
    burst: float | None = None,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
    wall_clock: WallClock = _utc_now,
    bucket_factory: Callable[[str, float, float], Bucket] | None = None,
) -> list[SendResult]:
    """Send every message; returns one final ``SendResult`` per message, in input order.

    ``rate_per_second`` is each sender id's rate unless ``sender_rates`` names
    it. A ``Retry-After`` longer than ``max_retry_after`` ends the message as
    ``failed`` rather than holding the run. Keys must be unique in a call.
    ``burst`` defaults to 50 ms worth of tokens (at least 1): 5 at 100 msg/s, 1
    for a long code; without it an event loop running late loses rate for good.
    ``bucket_factory(sender, rate, burst)`` replaces the in-process ``TokenBucket``: the
    parallel dispatch workers share each sender's rate through the operational store.
    """
    if concurrency < 1 or max_attempts < 1:
        raise ValueError("concurrency and max_attempts must be at least 1")
    keys = {m.key for m in messages}
    if len(keys) != len(messages):
        raise ValueError("duplicate idempotency keys in one send_all call")
    if not messages:
        return []
    rng = rng or random.Random()
    rates = dict(sender_rates or {})
    results: list[SendResult | None] = [None] * len(messages)
    slots = asyncio.Semaphore(concurrency)
    by_sender: dict[str, list[int]] = defaultdict(list)
    for i, msg in enumerate(messages):
        by_sender[msg.sender].append(i)

    def bucket(sender: str) -> Bucket:
        rate = rates.get(sender, rate_per_second)
        depth = burst if burst is not None else max(1.0, 0.05 * rate)
        if bucket_factory is not None:
            return bucket_factory(sender, rate, depth)
        return TokenBucket(rate, depth, clock=clock, sleep=sleep)

    buckets = {sender: bucket(sender) for sender in by_sender}
    idempotent = bool(adapter.honours_idempotency_key)
    debug = log.isEnabledFor(logging.DEBUG)

    async def deliver(i: int, bucket: TokenBucket) -> None:
        """One message, entered holding a slot and a token; leaves a final result."""
        msg = messages[i]
        attempt = 1
        holding = True
        try:
            while True:
                verdict = await _attempt(adapter, client, msg, wall_clock)
                if isinstance(verdict, SendResult):
                    results[i] = _with_attempts(verdict, attempt)
                    if debug or verdict.state != "accepted":
                        _log_final(msg, results[i])
                    return
                ambiguous = isinstance(verdict, _NoAnswer) and verdict.ambiguous
                if ambiguous and not idempotent:
                    results[i] = SendResult(
                        msg.key, UNKNOWN, error_code=verdict.error_code, error=verdict.error,
                        attempts=attempt,
                    )  # fmt: skip
                    _log_final(msg, results[i])
                    return
                retry_after = verdict.retry_after if isinstance(verdict, RetryLater) else None
                if attempt >= max_attempts or (retry_after or 0) > max_retry_after:
                    state = UNKNOWN if ambiguous else FAILED
                    error = verdict.error
                    if (retry_after or 0) > max_retry_after:
                        error = f"gateway asked to wait {retry_after:.0f} s: {error or ''}".strip()
                    results[i] = SendResult(
                        msg.key, state, error_code=verdict.error_code, error=error,
                        attempts=attempt,
                    )  # fmt: skip
                    _log_final(msg, results[i])
                    return
                delay = backoff_delay(
                    attempt, base=base_backoff, cap=max_backoff, rng=rng, retry_after=retry_after
                )
                if debug:
                    log.debug(
                        "retry %s to %s in %.2f s after attempt %d: %s",
                        msg.key, mask_phone(msg.to), delay, attempt, verdict.error,
                    )  # fmt: skip
                slots.release()
                holding = False
                await sleep(delay)
                await bucket.acquire()
                await slots.acquire()
                holding = True
                attempt += 1
        finally:
            if holding:
                slots.release()

    async with asyncio.TaskGroup() as group:

        async def feed(sender: str, indices: list[int]) -> None:
            bucket = buckets[sender]
            for i in indices:
                await bucket.acquire()
                await slots.acquire()
                group.create_task(deliver(i, bucket))

        for sender, indices in by_sender.items():
            group.create_task(feed(sender, indices))

    final = [r for r in results if r is not None]
    assert len(final) == len(messages), "every message must end in a final state"
    if log.isEnabledFor(logging.INFO):
        counts: dict[str, int] = defaultdict(int)
        for r in final:
            counts[r.state] += 1
        log.info("%s: sent %d messages: %s", adapter.name, len(final), dict(counts))
    return final


class _NoAnswer:
    """A transport error: no answer from the gateway.

    ``ambiguous`` when the request may have reached it (read/write timeout, a
    dropped connection); otherwise it certainly did not (connect error).
    """

    __slots__ = ("ambiguous", "error", "error_code")

    def __init__(self, exc: Exception, *, ambiguous: bool) -> None:
        name = type(exc).__name__
        self.error_code = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
        self.error = f"{name}: {exc}" if str(exc) else name
        self.ambiguous = ambiguous


async def _attempt(
    adapter: GatewayAdapter,
    client: httpx.AsyncClient,
    msg: OutboundMessage,
    wall_clock: WallClock = _utc_now,
) -> SendResult | RetryLater | _NoAnswer:
    if msg.expires_at is not None:
        # Checked before every attempt: a message that waited for its rate or a retry
        # past the recipient's window stays here (the ledger defers it).
        left = int((msg.expires_at - wall_clock()).total_seconds())
        if left < getattr(adapter, "min_validity_s", 1):
            return SendResult(
                msg.key, FAILED, error_code=WINDOW_CLOSED, outcome=WINDOW_CLOSED,
                error=f"not sent: the recipient's window closes in {max(left, 0)} s",
            )  # fmt: skip
        msg = replace(msg, validity_s=left)
    try:
        request = adapter.build_request(client, msg)
    except Exception as exc:  # a message the adapter cannot express is failed, not fatal
        return SendResult(msg.key, FAILED, error_code="bad_request", error=f"{exc}")
    try:
        response = await client.send(request)
    except _NOT_SENT as exc:
        return _NoAnswer(exc, ambiguous=False)
    except httpx.TransportError as exc:  # read/write timeouts, dropped connections
        return _NoAnswer(exc, ambiguous=True)
    try:
        await response.aread()
        return adapter.interpret(msg, response)
    except httpx.TransportError as exc:  # the body never fully arrived
        return _NoAnswer(exc, ambiguous=True)
    except Exception as exc:  # an answer we cannot read: it may have been accepted
        return SendResult(
            msg.key, UNKNOWN, error_code=f"http_{response.status_code}",
            error=f"unreadable answer: {exc}",
        )  # fmt: skip
    finally:
        await response.aclose()


def _with_attempts(result: SendResult, attempts: int) -> SendResult:
    if result.attempts == attempts:
        return result
    return SendResult(
        result.key, result.state, result.provider_message_id, result.error_code,
        result.error, result.outcome, attempts,
    )  # fmt: skip


def _log_final(msg: OutboundMessage, result: SendResult) -> None:
    level = logging.DEBUG if result.state == "accepted" else logging.WARNING
    log.log(
        level,
        "%s to %s: %s after %d attempt(s)%s",
        msg.key,
        mask_phone(msg.to),
        result.state,
        result.attempts,
        f" ({result.error_code}: {result.error})" if result.error or result.error_code else "",
    )
