"""The sender's pacing and retry arithmetic on a fake clock: token bucket, backoff, Retry-After."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from dagster_project.activation.gateway import TokenBucket, backoff_delay, parse_retry_after


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_token_bucket_spaces_requests_and_never_drifts():
    clock = FakeClock()
    bucket = TokenBucket(10, clock=clock, sleep=clock.sleep)
    waits = [bucket.reserve() for _ in range(5)]
    # first token is there; the next four are due 0.1 s apart
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3, 0.4])
    clock.now = 10.0  # idle: at most `burst` (1) token saved up
    assert bucket.reserve() == 0.0
    assert bucket.reserve() == pytest.approx(0.1)


def test_token_bucket_burst_and_unlimited():
    clock = FakeClock()
    bucket = TokenBucket(2, burst=3, clock=clock, sleep=clock.sleep)
    assert [bucket.reserve() for _ in range(4)] == pytest.approx([0, 0, 0, 0.5])
    assert TokenBucket(float("inf")).reserve() == 0.0
    assert TokenBucket(0).reserve() == 0.0


def test_backoff_full_jitter_and_retry_after_floor():
    rng = random.Random(1)
    for attempt in range(1, 10):
        d = backoff_delay(attempt, base=0.5, cap=4.0, rng=rng)
        assert 0 <= d <= min(4.0, 0.5 * 2 ** (attempt - 1))
    assert backoff_delay(1, base=0.5, cap=4, rng=rng, retry_after=7.0) == 7.0


def test_parse_retry_after():
    now = time.time()
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    date = format_datetime(datetime.fromtimestamp(now, UTC) + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(30, abs=1)
    past = format_datetime(datetime.fromtimestamp(now, UTC) - timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0
