"""One sender id's rate, held by every dispatch worker together, through PostgreSQL.

A carrier's throughput is per sender id, however many processes send for it. Each
sender has one row (``sms.send_rates``) holding the moment its next slot starts: the
generic cell rate algorithm. A worker reserves a few slots at a time (``chunk_s`` worth)
in one statement that moves that moment on, so reservations of different workers never
overlap, and sends each message at its slot. The database's clock is the only clock
compared: a reservation comes back as an offset from ``clock_timestamp()``.

``burst`` slots may be spent at once after a pause (as ``TokenBucket``'s burst), and a
slot not used within ``burst`` slot-lengths of its moment is dropped, not spent late: a
worker that stalled cannot catch up on top of the others. So in any interval the
workers together send at most ``rate × length + 2 × burst`` messages; a killed worker's
unused slots are simply lost (the rate falls, it is never exceeded).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque

DDL = """
CREATE SCHEMA IF NOT EXISTS sms;
CREATE TABLE IF NOT EXISTS sms.send_rates (
    sender TEXT PRIMARY KEY,
    next_at TIMESTAMPTZ NOT NULL
)
"""

# $1 sender, $2 seconds reserved (k / rate), $3 seconds of burst credit ((burst - 1) / rate).
RESERVE_SQL = """
INSERT INTO sms.send_rates AS r (sender, next_at)
VALUES (?, clock_timestamp() + make_interval(secs => ?))
ON CONFLICT (sender) DO UPDATE SET next_at =
    greatest(r.next_at, clock_timestamp() - make_interval(secs => ?))
    + make_interval(secs => ?)
RETURNING extract(epoch FROM (r.next_at - clock_timestamp()))::double precision
"""


def ensure(conn) -> None:
    conn.execute(DDL)


class SharedRate:
    """The sender's ``Bucket`` for ``send_all``: ``acquire`` waits for the next reserved slot."""

    def __init__(
        self,
        conn,
        sender: str,
        rate: float,
        burst: float = 1.0,
        *,
        chunk_s: float = 0.05,
        clock=time.monotonic,
        sleep=asyncio.sleep,
    ) -> None:
        self.conn = conn
        self.sender = sender
        self.rate = float(rate)
        self.burst = max(1.0, float(burst))
        self.unlimited = not (0 < self.rate < math.inf)
        self.chunk = max(1, round(self.rate * chunk_s)) if not self.unlimited else 0
        self._clock = clock
        self._sleep = sleep
        self._slots: deque[float] = deque()
        self.reservations = 0

    def _reserve(self) -> None:
        span = self.chunk / self.rate
        credit = (self.burst - 1.0) / self.rate
        (ends_in,) = self.conn.execute(RESERVE_SQL, [self.sender, span, credit, span]).fetchone()
        now = self._clock()
        start = now + float(ends_in) - span
        self._slots.extend(start + i / self.rate for i in range(self.chunk))
        self.reservations += 1

    def next_slot(self) -> float:
        """The local monotonic moment of this caller's slot (reserving more when out)."""
        stale = self._clock() - self.burst / self.rate
        while True:
            while self._slots and self._slots[0] < stale:
                self._slots.popleft()  # its moment passed long ago: dropped, not spent late
            if self._slots:
                return self._slots.popleft()
            self._reserve()

    async def acquire(self) -> None:
        if self.unlimited:
            return
        wait = self.next_slot() - self._clock()
        if wait > 0:
            await self._sleep(wait)
