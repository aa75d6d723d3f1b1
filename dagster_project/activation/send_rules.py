"""When a message may leave: its window, the legal hours and the regional rules, in every zone.

A message may leave only at a moment that lies inside the campaign's window, inside
the hard 08:00-21:00, and inside every applicable regional rule (US states' shorter
hours, France's Sundays and public holidays, ...) in **every** zone the recipient may
be in (``whereabouts``). ``SendClock.slot`` answers with the first such moment from
now and when that stretch ends (a message must expire at the provider by then), or
``None`` when there is none within ``HORIZON_DAYS``.

Regional rules are data: ``campaigns/settings/send_rules.yml``, validated on load
(errors name the file and the field). A rule is keyed by an ISO 3166 code (``US``,
``US-FL``, ``FR``) and applies when the recipient's regions include it; ``US-*``
(state unknown) takes every ``US-`` rule. Public holidays come from the ``holidays``
package, in each zone's own local date.

Pure: no Dagster, no DuckDB.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dagster_project.activation.whereabouts import ANY_STATE, Whereabouts
from dagster_project.lib.yaml_files import read_mapping, validate

# Recipient-local hours a send may ever happen in, whatever a campaign or rule says.
HARD_WINDOW = (dt.time(8, 0), dt.time(21, 0))
# How far ahead a next opening is looked for before a message is given up on.
HORIZON_DAYS = 14

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
Kind = Literal["marketing", "transactional"]
_REGION = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$")


class SendRulesError(ValueError):
    """An invalid send-rules file: the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Hours(_Strict):
    start: dt.time
    end: dt.time

    @model_validator(mode="after")
    def _ordered(self) -> Hours:
        if not self.start < self.end:
            raise ValueError(f"hours {self.start:%H:%M}-{self.end:%H:%M}: start must be before end")
        return self


class Rule(_Strict):
    """What one region allows, in the recipient's local time."""

    why: str = Field(min_length=1, description="the law or guidance behind the rule")
    hours: Hours | None = None
    hours_by_weekday: dict[Weekday, Hours] = Field(default_factory=dict)
    no_send_on: list[Weekday | Literal["public_holidays"]] = Field(default_factory=list)
    applies_to: list[Kind] = Field(default_factory=lambda: ["marketing", "transactional"])

    def hours_on(self, weekday: str) -> Hours | None:
        return self.hours_by_weekday.get(weekday, self.hours)  # type: ignore[arg-type]


class SendRules(_Strict):
    """Regional rules by ISO 3166 code; empty: only the hard window and the campaign's."""

    regions: dict[str, Rule] = Field(default_factory=dict)
    source: str = Field(default="", exclude=True)

    @field_validator("regions")
    @classmethod
    def _codes(cls, v: dict[str, Rule]) -> dict[str, Rule]:
        bad = [k for k in v if not _REGION.match(k)]
        if bad:
            raise ValueError(
                f"region keys are ISO 3166 codes like US, US-FL or FR; not {', '.join(bad)}"
            )
        return v

    def applicable(self, regions: Iterable[str], kind: str) -> tuple[tuple[str, Rule], ...]:
        """The rules for a recipient's regions; ``US-*`` takes every US state's rule."""
        wanted = set(regions)
        unknown_states = {r[: -len(ANY_STATE)] for r in wanted if r.endswith("-" + ANY_STATE)}
        return tuple(
            (code, rule)
            for code, rule in sorted(self.regions.items())
            if kind in rule.applies_to
            and (code in wanted or any(code.startswith(p) for p in unknown_states))
        )


def load_send_rules(path: Path) -> SendRules:
    """The rules file; a missing file means no regional rules beyond the hard window."""
    if not path.exists():
        return SendRules()
    data = read_mapping(path, SendRulesError, "a send-rules file is a mapping with 'regions'")
    return validate(SendRules, {**data, "source": str(path)}, path, SendRulesError)


@dataclass(frozen=True)
class Slot:
    """The first moment a message may leave, and when that stretch of time ends (UTC)."""

    at: dt.datetime
    until: dt.datetime
    open_now: bool


@cache
def _holidays(code: str, year: int) -> frozenset[dt.date]:
    country, _, subdivision = code.partition("-")
    try:
        calendar = holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    except NotImplementedError:
        raise SendRulesError(f"no public-holiday calendar for {code!r}") from None
    return frozenset(calendar)


def _excluded(code: str, rule: Rule, day: dt.date) -> bool:
    if WEEKDAYS[day.weekday()] in rule.no_send_on:
        return True
    return "public_holidays" in rule.no_send_on and day in _holidays(code, day.year)


def _local_bounds(
    day: dt.date, zone: ZoneInfo, lo: dt.time, hi: dt.time
) -> tuple[dt.datetime, dt.datetime]:
    """UTC bounds of local [lo, hi) on ``day``, the safe way round a DST change.

    A start in a spring-forward gap reads with the offset before it (fold=0), which
    lands after the jump; an end in a gap reads with the offset after it (fold=1),
    which lands before the jump; a repeated autumn hour takes its first occurrence.
    Each choice can only shorten the window, never stretch it.
    """
    start = dt.datetime.combine(day, lo, tzinfo=zone).astimezone(dt.UTC)
    end_local = dt.datetime.combine(day, hi, tzinfo=zone)
    end = end_local.astimezone(dt.UTC)
    if end.astimezone(zone).replace(tzinfo=None) != end_local.replace(tzinfo=None):
        end = end_local.replace(fold=1).astimezone(dt.UTC)
    return start, end


def zone_intervals(
    zone_name: str,
    window: tuple[dt.time, dt.time],
    rules: Sequence[tuple[str, Rule]],
    first_day: dt.date,
    days: int,
) -> list[tuple[dt.datetime, dt.datetime]]:
    """UTC stretches in which one zone's local clock allows a send, day by day."""
    zone = ZoneInfo(zone_name)
    out = []
    for offset in range(days):
        day = first_day + dt.timedelta(days=offset)
        if any(_excluded(code, rule, day) for code, rule in rules):
            continue
        lo = max(window[0], HARD_WINDOW[0])
        hi = min(window[1], HARD_WINDOW[1])
        weekday = WEEKDAYS[day.weekday()]
        for _, rule in rules:
            hours = rule.hours_on(weekday)
            if hours is not None:
                lo, hi = max(lo, hours.start), min(hi, hours.end)
        if lo < hi:
            start, end = _local_bounds(day, zone, lo, hi)
            if start < end:
                out.append((start, end))
    return out


def intersect(
    a: list[tuple[dt.datetime, dt.datetime]], b: list[tuple[dt.datetime, dt.datetime]]
) -> list[tuple[dt.datetime, dt.datetime]]:
    """The stretches of time in both sorted lists of half-open intervals."""
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if start < end:
            out.append((start, end))
        if a[i][1] <= b[j][1]:
            i += 1
        else:
            j += 1
    return out


class SendClock:
    """``slot(now, where, window, kind)``, with the stretches cached per recipient shape.

    One clock per plan or dispatch run: a million candidates share a few hundred
    distinct (zones, regions) shapes, each computed once per day.
    """

    def __init__(self, rules: SendRules | None = None, horizon_days: int = HORIZON_DAYS) -> None:
        self.rules = rules or SendRules()
        self.horizon_days = horizon_days
        self._cache: dict[tuple, list[tuple[dt.datetime, dt.datetime]]] = {}

    def stretches(
        self, where: Whereabouts, window: tuple[dt.time, dt.time], kind: str, first_day: dt.date
    ) -> list[tuple[dt.datetime, dt.datetime]]:
        key = (where.zones, where.regions, window, kind, first_day)
        found = self._cache.get(key)
        if found is None:
            rules = self.rules.applicable(where.regions, kind)
            # one day either side: a zone's local day starts up to 14 h away from UTC's
            days = self.horizon_days + 2
            found = []
            for i, zone in enumerate(where.zones):
                mine = zone_intervals(zone, window, rules, first_day - dt.timedelta(days=1), days)
                found = mine if i == 0 else intersect(found, mine)
            self._cache[key] = found
        return found

    def slot(
        self, now: dt.datetime, where: Whereabouts, window: tuple[dt.time, dt.time], kind: str
    ) -> Slot | None:
        """The first moment at or after ``now`` (UTC, aware) a message may leave; None if none.

        None as well when nothing is known of the recipient's whereabouts: a window
        cannot be honoured in an unknown zone.
        """
        if not where.zones:
            return None
        for start, end in self.stretches(where, window, kind, now.astimezone(dt.UTC).date()):
            if end > now:
                opening = max(start, now)
                return Slot(at=opening, until=end, open_now=start <= now)
        return None

    def why_none(self, where: Whereabouts, window: tuple[dt.time, dt.time], kind: str) -> str:
        """The ledger's reason when ``slot`` found no moment."""
        if not where.zones:
            return "no time zone known for the recipient: a window cannot be honoured"
        rules = self.rules.applicable(where.regions, kind)
        named = f" under {', '.join(code for code, _ in rules)} rules" if rules else ""
        return (
            f"no moment inside the window {window[0]:%H:%M}-{window[1]:%H:%M}{named} "
            f"in all of {where.describe()} within {self.horizon_days} days"
        )
