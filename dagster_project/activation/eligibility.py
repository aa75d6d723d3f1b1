"""Who gets a campaign's message today, and why everyone else does not.

Pure rules over plain values (no Dagster, no DuckDB), applied in the order the
funnel reports them:

1. in a target segment (for ``segment_entry`` campaigns: entered it recently)
2. passes the campaign's filters and exclusions
3-5. may receive this kind of message now: valid mobile, explicit and complete opt-in
   (marketing only), not suppressed. These three are not decided here: they are the
   verdict of the dbt view ``marts.dim_sms_reachability`` (the one definition the
   planner, the dispatch re-check and the compliance gate all read), carried on the
   ``Candidate`` with the step and reason the view names
6. within frequency caps: this campaign's own cap, ``once`` cadence, and the
   global marketing caps across campaigns (plans run in priority order, so on a
   collision the higher priority campaign has already taken the slot)
7. holdout: a deterministic hash of (campaign, customer), stable across reruns
8. send window in the recipient's local time, in every zone they may be in, under
   the regional rules (``whereabouts``, ``send_rules``): closed now means deferred to
   the next moment it is open in all of them; no such moment within the horizon
   means skipped with the zones named. Never sent outside it.

``decide`` returns one ``Decision`` per candidate; the funnel is the count of
decisions by the step that stopped them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from dagster_project.activation.campaigns import Campaign, Filter, Policy
from dagster_project.activation.caps import caps_hold_around, window_full
from dagster_project.activation.whereabouts import Whereabouts, locate

# Funnel steps, in order; a skip reason starts with its step's name.
STEPS = (
    "in_segment",
    "filters",
    "valid_mobile",
    "opt_in",
    "not_suppressed",
    "frequency_caps",
    "holdout",
    "send_window",
)


# The steps a reachability verdict may stop a message at (dim_sms_reachability).
REACHABILITY_STEPS = ("valid_mobile", "opt_in", "not_suppressed")


@dataclass(frozen=True)
class Verdict:
    """dim_sms_reachability's answer for one phone and one kind of message."""

    may_receive: bool
    step: str | None = None  # the first of REACHABILITY_STEPS that fails; None when allowed
    reason: str | None = None

    def __post_init__(self):
        # A refusal without a known step would drop out of the funnel's counts.
        if not self.may_receive and (self.step not in REACHABILITY_STEPS or not self.reason):
            raise ValueError(f"a refusing verdict needs a step and a reason: {self!r}")


MAY_RECEIVE = Verdict(True)
# What a Candidate carries until the view has judged its phone: never a send.
UNJUDGED = Verdict(False, "valid_mobile", "no reachability verdict for the phone")


@dataclass(frozen=True)
class Candidate:
    """One customer in a target segment, with what the rules need to know."""

    customer_id: str
    segments: frozenset[str]
    phone_e164: str | None = None
    # The facts the view judged, kept for the ledger (the opt-in evidence goes with a send).
    phone_type: str | None = None
    consent_state: str = "none"  # opted_in | opted_out | none (of that phone)
    opt_in_event_id: str | None = None
    opt_in_source: str | None = None
    opt_in_text_version: str | None = None
    suppression: str | None = None  # the reason(s) the phone is suppressed, else None
    # The view's verdicts on the phone: decide reads the one of the campaign's kind.
    marketing: Verdict = UNJUDGED
    transactional: Verdict = UNJUDGED
    time_zone: str | None = None  # the profile's best single zone (shown, never trusted alone)
    country: str | None = None
    # Every zone and region the recipient may be in; None: worked out when the window is
    # judged (only for who gets that far), from ``stated`` or else the phone and time_zone.
    whereabouts: Whereabouts | None = None
    # What the profile states for ``whereabouts.locate``: zone, country, state, home
    # store zone, home store country.
    stated: tuple[str | None, ...] | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    entered_on: dt.date | None = None  # when the customer entered the target segment
    bought_promoted_on: dt.date | None = None  # last purchase of the promoted category

    def verdict(self, kind: str) -> Verdict:
        return self.marketing if kind == "marketing" else self.transactional


@dataclass(frozen=True)
class Sent:
    """A marketing message already planned or sent to a customer (for the caps)."""

    campaign_id: str
    scheduled_at: dt.datetime  # UTC
    # For a collision: the priority of its campaign or journey, its ledger key, and whether
    # it may still give way (planned or deferred: not yet handed to a gateway).
    priority: int = 0
    key: str | None = None
    movable: bool = False
    # False for a holdout's row: it takes no slot, but gives way like its treated twin
    # would, so a collision leaves both arms of the lower campaign alike.
    counts: bool = True


@dataclass(frozen=True)
class Decision:
    customer_id: str
    state: str  # planned | deferred | held_out | skipped
    step: str  # the funnel step that decided (send_window for planned and deferred)
    reason: str
    variant: str | None = None
    scheduled_at: dt.datetime | None = None  # UTC; planned: now, deferred: next opening
    window_ends_at: dt.datetime | None = None  # UTC; the stretch scheduled_at lies in ends
    whereabouts: Whereabouts | None = None  # the zones and regions the decision honoured
    # Ledger keys of lower-priority messages not yet sent that give way to this one (caps).
    displaces: tuple[str, ...] = ()


def stable_fraction(*parts: str) -> float:
    """A number in [0, 1) from a SHA-256 of the parts: same input, same number, forever."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def in_holdout(campaign_id: str, customer_id: str, percent: float) -> bool:
    return stable_fraction("holdout", campaign_id, customer_id) < percent / 100


def pick_variant(campaign: Campaign, customer_id: str) -> str:
    total = sum(v.weight for v in campaign.variants)
    point = stable_fraction("variant", campaign.id, customer_id) * total
    for v in campaign.variants:
        point -= v.weight
        if point < 0:
            return v.id
    return campaign.variants[-1].id


def whereabouts_of(c: Candidate) -> Whereabouts:
    """The candidate's whereabouts; without them, its phone's zones and its profile zone."""
    if c.whereabouts is not None:
        return c.whereabouts
    if c.stated is not None:
        zone, country, state, store_zone, store_country = c.stated
        return locate(
            c.phone_e164, profile_time_zone=zone, profile_country=country, profile_state=state,
            home_store_time_zone=store_zone, home_store_country=store_country,
        )  # fmt: skip
    return locate(c.phone_e164, home_store_time_zone=c.time_zone, home_store_country=c.country)


def day_zone(where: Whereabouts) -> ZoneInfo:
    """The zone whose calendar days count for the caps.

    Every send lies inside 08:00-21:00 in all candidate zones, so the sends of one local
    day are the sends of one day in any of them: the first serves.
    """
    return ZoneInfo(where.zones[0])


def passes(f: Filter, value: Any) -> bool:
    """A structured filter on one attribute; a missing value never passes."""
    if value is None:
        return f.op in ("!=", "not in")
    ops = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        "in": lambda a, b: a in b,
        "not in": lambda a, b: a not in b,
    }
    return bool(ops[f.op](value, f.value))


def _local_day(moment: dt.datetime, tz: ZoneInfo) -> dt.date:
    return moment.astimezone(tz).date()


def decide(
    c: Candidate,
    campaign: Campaign,
    now: dt.datetime,
    policy: Policy,
    history: Sequence[Sent] = (),
) -> Decision:
    """The fate of one candidate for ``campaign`` at ``now`` (UTC, aware)."""

    def skip(step: str, reason: str) -> Decision:
        return Decision(c.customer_id, "skipped", step, reason)

    today = now.date()
    targeted = c.segments & set(campaign.segments)
    if not targeted:
        return skip("in_segment", "not in a target segment")
    recent = campaign.entry_within_days
    if campaign.cadence == "segment_entry" and (
        c.entered_on is None or (today - c.entered_on).days >= recent
    ):
        return skip("in_segment", f"entered the segment more than {recent} days ago")

    for f in campaign.filters:
        if not passes(f, c.attributes.get(f.field)):
            return skip("filters", f"filter {f.field} {f.op} {f.value}")
    ex = campaign.exclusions
    for segment in ex.segments:
        if segment in c.segments:
            return skip("filters", f"excluded segment {segment}")
    if ex.open_ticket and "open_ticket_exclusion" in c.segments:
        return skip("filters", "open support ticket")
    within = ex.bought_category_within_days
    if within and c.bought_promoted_on is not None and (today - c.bought_promoted_on).days < within:
        return skip("filters", f"bought {campaign.promoted_category} in the last {within} days")

    def cadence(mine: list[Sent], tz: ZoneInfo, slot: dt.datetime) -> str | None:
        if campaign.cadence == "once" and mine:
            return "already received this campaign"
        if campaign.cadence in ("daily", "segment_entry") and any(
            _local_day(s.scheduled_at, tz) == _local_day(slot, tz) for s in mine
        ):
            return "already has this campaign that day"
        return None

    return deliver(
        c,
        Program(campaign.id, campaign.kind, campaign.send_window.bounds, campaign.cap),
        now,
        policy,
        history,
        held_out=in_holdout(campaign.id, c.customer_id, campaign.holdout_percent),
        variant=pick_variant(campaign, c.customer_id),
        own_rule=cadence,
    )


@dataclass(frozen=True)
class Program:
    """What delivery needs of a campaign or a journey's send step."""

    id: str  # the campaign or journey id (the ledger's campaign_id)
    kind: str  # marketing | transactional
    window: tuple[dt.time, dt.time]
    cap: Any = None  # a Cap (max per per_days) of this program's own, or None


def deliver(
    c: Candidate,
    program: Program,
    now: dt.datetime,
    policy: Policy,
    history: Sequence[Sent] = (),
    *,
    held_out: bool,
    variant: str | None,
    own_rule=None,
    priority: int | None = None,
) -> Decision:
    """Steps 3-8 for a candidate already targeted: the view's verdict, the send window in
    every zone, the caps (``own_rule(mine, tz, slot)`` adds the program's own, such as a
    campaign's cadence), the holdout. Shared by campaigns and journeys, so a journey's
    message obeys exactly the rules a campaign's does.

    With ``priority``, a collision on the global caps is won by the higher priority: a
    lower-priority message not yet sent (``Sent.movable``) does not block this one, and
    those that no longer fit beside it are named in ``Decision.displaces``."""

    def skip(step: str, reason: str) -> Decision:
        return Decision(c.customer_id, "skipped", step, reason)

    verdict = c.verdict(program.kind)
    if not verdict.may_receive:
        return skip(verdict.step, verdict.reason)
    if not c.phone_e164:  # a verdict on no phone at all is a caller's bug: never a send
        return skip("valid_mobile", "no valid mobile number")
    marketing = program.kind == "marketing"

    where = whereabouts_of(c)
    window = program.window
    found = policy.clock.slot(now, where, window, program.kind)
    if found is None:
        reason = policy.clock.why_none(where, window, program.kind)
        return Decision(c.customer_id, "skipped", "send_window", reason, whereabouts=where)
    is_open, slot, tz = found.open_now, found.at, day_zone(where)

    mine = [s for s in history if s.campaign_id == program.id and s.counts]
    if own_rule is not None and (why := own_rule(mine, tz, slot)):
        return skip("frequency_caps", why)
    if program.cap:
        mine_days = [_local_day(s.scheduled_at, tz) for s in mine]
        if window_full(mine_days, _local_day(slot, tz), program.cap.per_days, program.cap.max):
            return skip(
                "frequency_caps",
                f"campaign cap {program.cap.max} per {program.cap.per_days} days",
            )
    soft = [s for s in history if priority is not None and s.movable and s.priority < priority]
    firm = [s for s in history if s not in soft and s.counts]
    if marketing:
        slot_day = _local_day(slot, tz)
        days = [_local_day(s.scheduled_at, tz) for s in firm]
        if sum(d == slot_day for d in days) >= policy.marketing_per_day:
            return skip(
                "frequency_caps", f"global cap {policy.marketing_per_day} marketing per day"
            )
        if window_full(days, slot_day, 7, policy.marketing_per_week):
            return skip(
                "frequency_caps", f"global cap {policy.marketing_per_week} marketing per 7 days"
            )

    timing = {"scheduled_at": slot, "window_ends_at": found.until, "whereabouts": where}
    if marketing and soft and not held_out:
        slot_day = _local_day(slot, tz)
        kept = [_local_day(s.scheduled_at, tz) for s in firm] + [slot_day]
        gone = []
        for s in sorted(soft, key=lambda s: -s.priority):  # the higher of them keep theirs
            day = _local_day(s.scheduled_at, tz)
            if caps_hold_around([*kept, day], slot_day, policy):
                kept.append(day)
            else:
                gone.append(s.key)
        timing["displaces"] = tuple(k for k in gone if k)
    if held_out:
        return Decision(c.customer_id, "held_out", "holdout", "holdout group", variant, **timing)
    if is_open:
        return Decision(c.customer_id, "planned", "send_window", "window open", variant, **timing)
    return Decision(
        c.customer_id,
        "deferred",
        "send_window",
        f"window closed in {_zones_text(where)}: "
        "deferred to the next moment it is open in all of them",
        variant,
        **timing,
    )


def funnel(decisions: Iterable[Decision]) -> list[tuple[str, int, int]]:
    """(step, reached, stopped here) per step, in order; the last rows are the outcomes."""
    decisions = list(decisions)
    stopped = {s: 0 for s in STEPS}
    for d in decisions:
        if d.state in ("skipped", "held_out"):
            stopped[d.step] += 1
    rows, reached = [], len(decisions)
    for s in STEPS:
        rows.append((s, reached, stopped[s]))
        reached -= stopped[s]
    return rows


def _zones_text(where) -> str:
    return where.describe() if len(where.zones) <= 4 else f"{len(where.zones)} zones"
