"""Generation parameters, the day numbering every module shares, and named random streams.

Day ``0`` is the first delivery day (``end - days + 1``) and day ``days - 1`` is
``end``. Times are integer seconds: epoch seconds for UTC instants, seconds
since local midnight for store clocks.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

DAY_SECONDS = 86_400
DEFAULT_STORES = 12
MAX_MESS_RATE = 0.05
# The last this many delivery days get their shop orders and checkouts in several files
# per day, as a shop exporting through the day delivers them (writers.daily_files).
DEFAULT_INTRADAY_DAYS = 2


@dataclass(frozen=True)
class Params:
    customers: int
    days: int
    seed: int
    end: date
    mess_rate: float = 0.005
    late_rate: float = 0.02
    stores: int = DEFAULT_STORES
    intraday_days: int = DEFAULT_INTRADAY_DAYS

    def __post_init__(self) -> None:
        if self.customers < 1:
            raise ValueError("customers must be at least 1")
        if self.days < 1:
            raise ValueError("days must be at least 1")
        if not 0.0 <= self.mess_rate <= MAX_MESS_RATE:
            raise ValueError(f"mess_rate must be within [0, {MAX_MESS_RATE}]")
        if not 0.0 <= self.late_rate <= 1.0:
            raise ValueError("late_rate must be within [0, 1]")
        if self.stores < 0:
            raise ValueError("stores must not be negative")
        if self.intraday_days < 0:
            raise ValueError("intraday_days must not be negative")

    @property
    def start(self) -> date:
        return self.end - timedelta(days=self.days - 1)

    @property
    def start_epoch(self) -> int:
        """Epoch seconds of day 0, 00:00 UTC."""
        return int(datetime(*self.start.timetuple()[:3], tzinfo=UTC).timestamp())

    @property
    def start_epoch_day(self) -> int:
        return self.start_epoch // DAY_SECONDS

    @property
    def first_intraday_day(self) -> int:
        """Day number from which shop exports land in several files per day."""
        return self.days - self.intraday_days

    def day_iso(self, day: int) -> str:
        return (self.start + timedelta(days=int(day))).isoformat()

    def rng(self, name: str) -> np.random.Generator:
        """An independent stream per concern, so changing one part keeps the others' draws."""
        seq = np.random.SeedSequence(self.seed, spawn_key=(zlib.crc32(name.encode()),))
        return np.random.Generator(np.random.PCG64(seq))

    def as_dict(self) -> dict:
        return {
            "customers": self.customers,
            "days": self.days,
            "seed": self.seed,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "mess_rate": self.mess_rate,
            "late_rate": self.late_rate,
            "stores": self.stores,
            "intraday_days": self.intraday_days,
        }
