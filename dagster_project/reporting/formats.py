"""Numbers as the report prints them: counts, shares, dollars, points, ratios.

Pure and dependency-free (pandas only, for its missing-value test). Rates are
fractions (0..1) in the data and percentages on the page; a lift is a difference
of rates, printed in percentage points ("pts"). A missing value is a dash.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

DASH = "\u2014"  # a missing value
MINUS = "\u2212"


def number(value: Any) -> float | None:
    """A finite float, or None for NULL, NaN, pd.NA and anything not numeric."""
    if value is None:
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def _signed(text: str) -> str:
    return text.replace("-", MINUS)


def fmt_count(value: Any) -> str:
    n = number(value)
    return DASH if n is None else _signed(f"{round(n):,}")


def fmt_pct(value: Any) -> str:
    """0.973 -> ``97.3%``; small shares keep a second decimal (0.0012 -> ``0.12%``)."""
    n = number(value)
    if n is None:
        return DASH
    pct = n * 100
    digits = 2 if 0 < abs(pct) < 1 else 1
    return _signed(f"{round(pct, digits) + 0.0:.{digits}f}%")


def fmt_share(part: Any, whole: Any) -> str:
    """``part / whole`` as a percentage, a dash when the whole is 0 or missing."""
    p, w = number(part), number(whole)
    return DASH if p is None or not w else fmt_pct(p / w)


def fmt_usd(value: Any, whole: bool = False) -> str:
    """``$1,240`` from a thousand up (or when ``whole``), ``$12.50`` below."""
    n = number(value)
    if n is None:
        return DASH
    digits = 0 if whole or abs(n) >= 1000 else 2
    amount = round(abs(n), digits)
    text = f"${amount:,.{digits}f}"
    return (MINUS + text) if n < 0 and amount else text


def fmt_pts(value: Any, unit: bool = True) -> str:
    """A difference of rates in percentage points: 0.041 -> ``+4.1 pts``."""
    n = number(value)
    if n is None:
        return DASH
    text = _signed(f"{round(n * 100, 1) + 0.0:+.1f}")
    return f"{text} pts" if unit else text


def fmt_interval(low: Any, high: Any) -> str:
    """A lift interval without its unit: ``+1.0 to +7.2``."""
    return f"{fmt_pts(low, unit=False)} to {fmt_pts(high, unit=False)}"


def fmt_rel(value: Any) -> str:
    """A relative lift: 0.12 -> ``+12%``."""
    n = number(value)
    return DASH if n is None else _signed(f"{round(n * 100) + 0:+d}%")


def fmt_ratio(value: Any) -> str:
    """ROAS: revenue per dollar spent, 4.25 -> ``4.3×``, 3105.2 -> ``3,105×``."""
    n = number(value)
    if n is None:
        return DASH
    return _signed(f"{n:,.0f}\u00d7" if abs(n) >= 100 else f"{n:,.1f}\u00d7")


def plural(count: Any, one: str, many: str | None = None) -> str:
    """``1 order``, ``5 orders``, ``— orders`` (the count formatted as everywhere else)."""
    n = number(count)
    word = one if n is not None and round(n) == 1 else (many or one + "s")
    return f"{fmt_count(count)} {word}"


def day(value: Any) -> str:
    """A date as ``YYYY-MM-DD``; empty for a missing one."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    try:
        return pd.Timestamp(value).date().isoformat()
    except (TypeError, ValueError):
        return str(value)


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"
