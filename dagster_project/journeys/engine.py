"""How one entry moves through its journey: entries, exits, waits, branches, sends.

``advance(journey, entry, facts, now)`` runs an entry's steps as far as ``now`` allows
and returns the entry's new state with the messages it must send. Everything it
needs comes in as plain values (``Facts``: the customer's events, segments,
attributes, whether the phone may still receive the journey's kind); it reads no
warehouse and keeps no clock of its own, so the same inputs give the same state.

Rules:

* exits are checked before every step; an exit ends the entry with its reason;
* a wait moves the entry's due moment on from the moment the step was reached (not
  from when the run happened to look), so a late run catches up without drift;
* a wait for an event ends at the first such event after the step was reached, or at
  its timeout, and goes where the file says;
* a journey only moves forward (the file is refused otherwise), so every entry ends.

``may_enter`` is the re-entry rule. The holdout arm is drawn at entry from a hash of
journey and customer, so a re-entering customer stays in the same arm.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

from dagster_project.activation.eligibility import passes, stable_fraction
from dagster_project.journeys.spec import END, NEXT, Condition, Journey, Step

ACTIVE, COMPLETED, EXITED = "active", "completed", "exited"
TREATMENT, HOLDOUT = "treatment", "holdout"


@dataclass(frozen=True)
class Event:
    """One event of the customer's (``fct_customer_events``), times in UTC (aware)."""

    type: str  # checkout_abandoned | order | opt_in | opt_out | reply | click
    at: dt.datetime
    skus: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Facts:
    """What the warehouse says about the customer now."""

    events: tuple[Event, ...] = ()
    segments: frozenset[str] = frozenset()
    attributes: Mapping[str, Any] = field(default_factory=dict)
    may_receive: bool = True  # the reachability verdict for the journey's kind
    blocked_reason: str | None = None
    zone: str = "UTC"  # the zone whose clock "local time of day" means (the first candidate)
    # When the customer last entered a higher-priority journey they are still in, if ever
    higher_priority_entered_at: dt.datetime | None = None
    invoice_settled: bool = False  # the entry's invoice is paid or void


@dataclass(frozen=True)
class Visit:
    """One step taken: which, when (the moment it was due), and what came of it."""

    step: str
    at: dt.datetime
    outcome: str


@dataclass(frozen=True)
class Entry:
    journey_id: str
    customer_id: str
    entry_key: str  # the triggering event's id: one entry per event
    entered_at: dt.datetime  # the triggering event's time (UTC, aware)
    arm: str  # treatment | holdout
    position: int = 0  # index of the step to run next
    due_at: dt.datetime | None = None  # when that step may run; None: at entry
    waiting_since: dt.datetime | None = None  # a wait_for step in progress: reached then
    status: str = ACTIVE
    exit_reason: str | None = None
    history: tuple[Visit, ...] = ()
    # What the trigger carried: the cart's skus, the invoice's id, amount and due date.
    anchor: Mapping[str, Any] = field(default_factory=dict)

    @property
    def next_due(self) -> dt.datetime:
        return self.due_at or self.entered_at


@dataclass(frozen=True)
class SendIntent:
    """A send step reached: the message is due at ``due_at`` (quiet hours may defer it)."""

    step: str
    due_at: dt.datetime


def draw_arm(journey: Journey, customer_id: str) -> str:
    """Holdout or treatment, from journey and customer only: stable across re-entries."""
    fraction = stable_fraction("journey-holdout", journey.id, customer_id)
    return HOLDOUT if fraction < journey.holdout_percent / 100 else TREATMENT


def may_enter(
    journey: Journey, earlier: Sequence[Entry], entry_key: str, at: dt.datetime
) -> str | None:
    """None when a customer may enter at ``at``; else why not. ``earlier``: their entries."""
    if any(e.entry_key == entry_key for e in earlier):
        return "already entered for this event"
    if journey.reentry.policy == "each_event":
        return None
    if any(e.status == ACTIVE for e in earlier):
        return "already in the journey"
    if not earlier:
        return None
    if journey.reentry.policy == "once":
        return "re-entry: once ever"
    last = max(e.entered_at for e in earlier)
    if at - last < dt.timedelta(days=journey.reentry.days or 0):
        return f"re-entry: at most once per {journey.reentry.days} days"
    return None


def _since(facts: Facts, kind: str, after: dt.datetime, now: dt.datetime) -> list[Event]:
    return [e for e in facts.events if e.type == kind and after < e.at <= now]


def _bought(facts: Facts, entry: Entry, now: dt.datetime) -> bool:
    return bool(_since(facts, "order", entry.entered_at, now))


def _bought_items(facts: Facts, entry: Entry, now: dt.datetime) -> bool:
    wanted = frozenset(entry.anchor.get("skus") or ())
    if not wanted:
        return False
    bought: set[str] = set()
    for e in _since(facts, "order", entry.entered_at, now):
        bought |= e.skus
    return wanted <= bought


def holds(condition: Condition, entry: Entry, facts: Facts, now: dt.datetime) -> bool:
    """Whether a branch condition holds for the entry at ``now``."""
    if condition.bought_since_entry is not None:
        return _bought(facts, entry, now) == condition.bought_since_entry
    if condition.bought_entry_items is not None:
        return _bought_items(facts, entry, now) == condition.bought_entry_items
    if condition.clicked_since_entry is not None:
        return bool(_since(facts, "click", entry.entered_at, now)) == condition.clicked_since_entry
    if condition.replied_since_entry is not None:
        return bool(_since(facts, "reply", entry.entered_at, now)) == condition.replied_since_entry
    if condition.in_segment is not None:
        return condition.in_segment in facts.segments
    if condition.not_in_segment is not None:
        return condition.not_in_segment not in facts.segments
    assert condition.filter is not None
    return passes(condition.filter, facts.attributes.get(condition.filter.field))


def exit_reason(journey: Journey, entry: Entry, facts: Facts, now: dt.datetime) -> str | None:
    """The first of the journey's exits that holds, in the file's order, as a reason."""
    for name in journey.exits:
        if name == "opted_out":
            if _since(facts, "opt_out", entry.entered_at, now):
                return "opted_out: STOP or opt-out since entry"
            if not facts.may_receive:
                return f"opted_out: may no longer receive: {facts.blocked_reason or 'blocked'}"
        elif name == "purchased" and _bought(facts, entry, now):
            return "purchased: an order since entry"
        elif name == "purchased_entry_items" and _bought_items(facts, entry, now):
            return "purchased_entry_items: bought every item of the cart"
        elif name == "invoice_paid" and facts.invoice_settled:
            return "invoice_paid: the invoice is paid or void"
        elif name == "left_segment" and journey.entry.segment not in facts.segments:
            return f"left_segment: no longer in {journey.entry.segment}"
        elif name == "higher_priority_journey" and (
            facts.higher_priority_entered_at is not None
            and facts.higher_priority_entered_at > entry.entered_at
        ):
            return "higher_priority_journey: entered a journey of higher priority since"
    return None


def local_time_after(
    moment: dt.datetime, time: dt.time, zone: str, on: dt.date | None = None
) -> dt.datetime:
    """``time`` in ``zone`` on day ``on``; without it, the first such moment at or after
    ``moment``. UTC, aware. A time a DST gap skips resolves forward (zoneinfo's fold=0)."""
    tz = ZoneInfo(zone)
    if on is not None:
        return dt.datetime.combine(on, time, tz).astimezone(dt.UTC)
    local = moment.astimezone(tz)
    candidate = dt.datetime.combine(local.date(), time, tz)
    if candidate < moment:
        candidate = dt.datetime.combine(local.date() + dt.timedelta(days=1), time, tz)
    return candidate.astimezone(dt.UTC)


def _goto(journey: Journey, position: int, target: str) -> int:
    if target == NEXT:
        return position + 1
    if target == END:
        return len(journey.steps)
    return journey.index(target)


def _wait_until(step: Step, entry: Entry, facts: Facts, reached: dt.datetime) -> dt.datetime:
    w = step.wait_until
    assert w is not None
    if w.anchor == "due_date":
        due_on = entry.anchor["due_on"]
        due_on = due_on if isinstance(due_on, dt.date) else dt.date.fromisoformat(str(due_on))
        return local_time_after(reached, w.time, facts.zone, due_on + dt.timedelta(w.offset_days))
    return local_time_after(reached, w.time, facts.zone)


def advance(
    journey: Journey, entry: Entry, facts: Facts, now: dt.datetime
) -> tuple[Entry, list[SendIntent]]:
    """Run the entry's steps that are due by ``now``; its new state and the sends reached."""
    sends: list[SendIntent] = []
    # Each pass moves to a later step or stops: the loop ends within len(steps) + 1 passes.
    for _ in range(len(journey.steps) + 2):
        if entry.status != ACTIVE:
            break
        due = entry.next_due
        if entry.position >= len(journey.steps):
            entry = close(entry, COMPLETED, None, due, "completed")
            break
        step = journey.steps[entry.position]
        if due > now and entry.waiting_since is None:
            break
        reason = exit_reason(journey, entry, facts, now)
        if reason:
            entry = close(entry, EXITED, reason, now, "exit")
            break
        if step.send is not None:
            sends.append(SendIntent(step.id, due))
            entry = _visit(entry, step, due, "send", entry.position + 1, due)
        elif step.wait is not None:
            until = due + step.wait.delta
            entry = _visit(
                entry, step, due, f"wait until {until:%Y-%m-%d %H:%M}Z", entry.position + 1, until
            )
        elif step.wait_until is not None:
            until = _wait_until(step, entry, facts, due)
            entry = _visit(
                entry, step, due, f"wait until {until:%Y-%m-%d %H:%M}Z", entry.position + 1, until
            )
        elif step.wait_for is not None:
            w = step.wait_for
            since = entry.waiting_since or due
            deadline = since + w.timeout.delta
            kind = {"clicked": "click", "replied": "reply", "purchased": "order"}[w.event]
            seen = sorted(e.at for e in _since(facts, kind, since, min(now, deadline)))
            if seen:
                at = max(seen[0], since)
                entry = _visit(
                    entry,
                    step,
                    at,
                    f"{w.event} at {at:%Y-%m-%d %H:%M}Z",
                    _goto(journey, entry.position, w.then),
                    at,
                )
            elif now >= deadline:
                entry = _visit(
                    entry,
                    step,
                    deadline,
                    "timeout",
                    _goto(journey, entry.position, w.timeout_then),
                    deadline,
                )
            else:
                entry = replace(entry, waiting_since=since, due_at=deadline)
                break
        else:
            b = step.branch
            assert b is not None
            taken = holds(b.when, entry, facts, now)
            target = b.then if taken else b.otherwise
            entry = _visit(
                entry,
                step,
                due,
                f"{'then' if taken else 'else'} -> {target}",
                _goto(journey, entry.position, target),
                due,
            )
    return entry, sends


def _visit(
    entry: Entry, step: Step, at: dt.datetime, outcome: str, position: int, due: dt.datetime
) -> Entry:
    return replace(
        entry,
        position=position,
        due_at=due,
        waiting_since=None,
        history=(*entry.history, Visit(step.id, at, outcome)),
    )


def close(entry: Entry, status: str, reason: str | None, at: dt.datetime, outcome: str) -> Entry:
    return replace(
        entry,
        status=status,
        exit_reason=reason,
        waiting_since=None,
        history=(*entry.history, Visit(outcome, at, reason or outcome)),
    )
