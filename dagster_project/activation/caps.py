"""Frequency caps over local days: how many messages a window of days may hold.

Pure: plain dates and the policy's numbers. ``eligibility`` asks these before planning a
message (campaigns and journeys alike) and when a higher-priority message displaces
lower ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from dagster_project.activation.campaigns import Policy


def window_full(days: Sequence[dt.date], day: dt.date, span: int, cap: int) -> bool:
    """True when one more message on ``day`` would put ``cap + 1`` into some ``span``-day window.

    Every window that contains ``day`` counts, including those reaching past it: a
    message deferred to a later day is already scheduled, and a cap of 1 a week
    must not let a message in two days before it.
    """
    for offset in range(span):
        start = day - dt.timedelta(days=span - 1 - offset)
        end = start + dt.timedelta(days=span - 1)
        if sum(start <= d <= end for d in days) >= cap:
            return True
    return False


def caps_hold_around(days: Sequence[dt.date], day: dt.date, policy: Policy) -> bool:
    """Whether messages on these local days keep the global marketing caps on ``day`` and in
    every 7-day window holding it (the only windows one more message there can break)."""
    if sum(d == day for d in days) > policy.marketing_per_day:
        return False
    for offset in range(7):
        start = day - dt.timedelta(days=6 - offset)
        if (
            sum(start <= d <= start + dt.timedelta(days=6) for d in days)
            > policy.marketing_per_week
        ):
            return False
    return True


def caps_hold(days: Sequence[dt.date], policy: Policy) -> bool:
    """Whether messages on these local days keep the global marketing caps."""
    counts: dict[dt.date, int] = {}
    for d in days:
        counts[d] = counts.get(d, 0) + 1
    if any(n > policy.marketing_per_day for n in counts.values()):
        return False
    return all(
        sum(n for d, n in counts.items() if start <= d < start + dt.timedelta(days=7))
        <= policy.marketing_per_week
        for start in counts
    )
