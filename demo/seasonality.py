"""Seasonality: how busy each day is per channel and country, and drawing days and clock times.

Days are drawn by inverting a cumulative day-weight curve with
``np.searchsorted``, so any number of events with individual windows is one
vectorized call.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from .params import DAY_SECONDS, Params
from .reference import COUNTRIES

STORE, ONLINE = 0, 1

MONTH_FACTOR = (0.85, 0.78, 0.90, 0.95, 1.0, 1.0, 0.95, 0.95, 1.0, 1.05, 1.45, 1.85)
# Monday first. Stores fill up at the weekend; German shops are closed on Sundays.
STORE_WEEKDAY = (0.80, 0.85, 0.90, 1.0, 1.20, 1.60, 1.05)
ONLINE_WEEKDAY = (1.10, 1.0, 1.0, 0.98, 0.92, 0.90, 1.10)

STORE_HOURS = np.arange(9, 21)
STORE_HOUR_W = np.array([3, 5, 7, 8, 7, 6, 7, 8, 9, 8, 6, 3], dtype=float)
ONLINE_HOUR_W = np.array(
    [2, 1, 1, 1, 1, 1, 2, 4, 6, 7, 7, 8, 9, 8, 7, 7, 7, 8, 9, 11, 13, 13, 10, 5], dtype=float
)


def black_friday(year: int) -> date:
    nov1 = date(year, 11, 1)
    first_thursday = nov1 + timedelta(days=(3 - nov1.weekday()) % 7)
    return first_thursday + timedelta(days=22)


def calendar_dates(params: Params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    days = np.arange(params.days)
    dt = np.datetime64(params.start.isoformat(), "D") + days
    month = dt.astype("datetime64[M]").astype(int) % 12
    weekday = (dt.astype(int) + 3) % 7  # 1970-01-01 was a Thursday
    return dt, month, weekday


def is_bfcm(params: Params) -> np.ndarray:
    """True on Black Friday through Cyber Monday."""
    dt, _, _ = calendar_dates(params)
    out = np.zeros(params.days, dtype=bool)
    for year in range(params.start.year, params.end.year + 1):
        bf = np.datetime64(black_friday(year).isoformat(), "D")
        out |= (dt >= bf) & (dt <= bf + 3)
    return out


def day_weights(params: Params, channel: int, country: int) -> np.ndarray:
    dt, month, weekday = calendar_dates(params)
    day_of_month = (dt - dt.astype("datetime64[M]")).astype(int) + 1
    weekly = np.array(STORE_WEEKDAY if channel == STORE else ONLINE_WEEKDAY)
    if channel == STORE and COUNTRIES[country] == "DE":
        weekly[6] = 0.0
    w = np.asarray(MONTH_FACTOR)[month] * weekly[weekday]
    december = month == 11
    w = np.where(december & (day_of_month >= 8) & (day_of_month <= 23), w * 1.35, w)
    if channel == STORE:
        w = np.where(december & (day_of_month == 25), 0.0, w)
    w = np.where(is_bfcm(params), w * (3.0 if channel == ONLINE else 2.5), w)
    return w.astype(np.float64)


class DaySampler:
    """Draws event days within per-event windows, weighted by channel and country seasonality."""

    def __init__(self, params: Params):
        self.days = params.days
        groups = [
            day_weights(params, channel, country)
            for channel in (STORE, ONLINE)
            for country in range(len(COUNTRIES))
        ]
        # One strictly increasing curve over all groups lets a single searchsorted serve them all.
        parts, total = [], 0.0
        for w in groups:
            cum = np.concatenate([[0.0], np.cumsum(w)]) + total
            parts.append(cum)
            total = cum[-1] + 1.0
        self.cum = np.concatenate(parts)
        self.stride = self.days + 1

    def sample(
        self,
        rng: np.random.Generator,
        channel: np.ndarray,
        country: np.ndarray,
        lo: np.ndarray,
        hi: np.ndarray,
    ) -> np.ndarray:
        base = (channel.astype(np.int64) * len(COUNTRIES) + country) * self.stride
        wlo = self.cum[base + lo]
        whi = self.cum[base + hi + 1]
        u = wlo + rng.random(len(base)) * (whi - wlo)
        pos = np.searchsorted(self.cum, u, side="right") - 1
        return np.clip(pos - base, lo, hi).astype(np.int32)


def sample_hours(rng: np.random.Generator, n: int, weights: np.ndarray, first_hour: int = 0):
    cum = np.cumsum(weights) / weights.sum()
    hour = np.searchsorted(cum, rng.random(n), side="right") + first_hour
    return hour.astype(np.int32) * 3600 + rng.integers(0, 3600, n, dtype=np.int32)


def store_clock(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after local midnight while stores are open (09:00-20:59)."""
    return sample_hours(rng, n, STORE_HOUR_W, int(STORE_HOURS[0]))


def online_utc_clock(rng: np.random.Generator, std_offset_hours: np.ndarray) -> np.ndarray:
    """UTC seconds of day for online activity that peaks in the buyer's local evening.

    Wrapping within the day keeps the UTC date equal to the drawn day, which is
    also the delivery day.
    """
    local = sample_hours(rng, len(std_offset_hours), ONLINE_HOUR_W)
    return ((local - std_offset_hours.astype(np.int32) * 3600) % DAY_SECONDS).astype(np.int32)
