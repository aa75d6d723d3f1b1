"""Retry policy as pure functions: how long to wait, and what a ``Retry-After`` says.

No I/O and no clock of its own (``now`` and the random source are passed in),
so the policy is unit-tested alone.
"""

from __future__ import annotations

import math
import random
import time
from email.utils import parsedate_to_datetime


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    rng: random.Random,
    retry_after: float | None = None,
) -> float:
    """Seconds to wait before attempt ``attempt + 1``: full jitter, at least ``retry_after``.

    Full jitter (uniform over [0, min(cap, base * 2**(attempt-1))]) spreads the
    retries of many messages that failed together; the provider's own
    ``Retry-After`` is a floor, never shortened.
    """
    jitter = rng.uniform(0.0, min(cap, base * 2 ** (attempt - 1)))
    return jitter if retry_after is None else max(retry_after, jitter)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds from now: delta-seconds or an HTTP date; None if absent/bad."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if math.isnan(seconds):
        return None
    return max(0.0, seconds)
