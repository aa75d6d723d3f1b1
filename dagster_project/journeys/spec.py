"""Journey files (``journeys/*.yml``): multi-step lifecycle programs, validated on load.

A journey is a program per customer: an **entry** trigger (entering a segment, or an
event from the warehouse: a checkout left, a first order, any order of a category, a
consent opt-in, a reply keyword, an open invoice), **steps** run in order (send a
message, wait a duration, wait until a local time of day, wait for an event with a
timeout, branch on a condition), **exits** checked before every step, a **re-entry**
policy, a **holdout** drawn at entry, and a priority and cap shared with campaigns.

The file says everything; nothing here reads the warehouse. ``scan_journeys`` turns
the folder into typed ``Journey`` objects and, for a file that does not validate, a
``BrokenFile`` whose error names the file and the field, like campaign files.

Pure: no Dagster, no DuckDB.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from dagster_project.activation.campaigns import (
    CAMPAIGN_SUFFIXES,
    BrokenFile,
    CampaignError,
    Cap,
    Filter,
    Variant,
    Window,
    _check_segments,
    _Strict,
    check_languages,
)
from dagster_project.lib.yaml_files import read_mapping, validate


class JourneyError(CampaignError):
    """An invalid journey file: the message names the file and the field."""


# Entry triggers. Each names the warehouse event it reacts to (fct_customer_events,
# fct_customer_segment_history, fct_invoices); the engine never guesses one.
TRIGGERS = (
    "segment_entered",
    "checkout_abandoned",
    "first_order",
    "order",
    "opt_in",
    "reply_keyword",
    "invoice_open",
)
# What a wait_for step may wait for, and what a branch or an exit may test.
AWAITABLE = ("clicked", "replied", "purchased")
EXITS = (
    "purchased",  # any non-cancelled order since entry
    "purchased_entry_items",  # an order since entry holding every SKU of the entry's cart
    "opted_out",  # the phone may no longer receive this kind of message (STOP, suppression)
    "invoice_paid",  # the entry's invoice is paid (or void)
    "left_segment",  # segment_entered journeys: no longer in the segment
    "higher_priority_journey",  # in an active entry of a journey with a higher priority
)
# Where a branch or a wait_for goes: a step id, the next step, or the end of the journey.
NEXT, END = "next", "end"


class Duration(_Strict):
    minutes: int = Field(default=0, ge=0)
    hours: int = Field(default=0, ge=0)
    days: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _positive(self) -> Duration:
        if self.delta <= dt.timedelta(0):
            raise ValueError("a duration needs minutes, hours or days above zero")
        return self

    @property
    def delta(self) -> dt.timedelta:
        return dt.timedelta(days=self.days, hours=self.hours, minutes=self.minutes)


class Trigger(_Strict):
    event: Literal[
        "segment_entered",
        "checkout_abandoned",
        "first_order",
        "order",
        "opt_in",
        "reply_keyword",
        "invoice_open",
    ]
    segment: str | None = Field(default=None, description="segment_entered: which segment")
    category: str | None = Field(default=None, description="order: only orders of this category")
    keywords: list[str] | None = Field(default=None, description="reply_keyword: which words")
    within_hours: int = Field(
        default=48,
        ge=1,
        description="only events this recent enter: a journey added today does not replay a "
        "year of history",
    )
    filters: list[Filter] = Field(default_factory=list)

    @model_validator(mode="after")
    def _fits_event(self) -> Trigger:
        if (self.event == "segment_entered") != (self.segment is not None):
            raise ValueError("segment is required for segment_entered and only for it")
        if self.segment is not None:
            _check_segments([self.segment])
        if self.category is not None and self.event != "order":
            raise ValueError("category applies to the order trigger only")
        if (self.event == "reply_keyword") != bool(self.keywords):
            raise ValueError("keywords are required for reply_keyword and only for it")
        if self.keywords:
            object.__setattr__(self, "keywords", [k.strip().upper() for k in self.keywords])
        return self


class Reentry(_Strict):
    """once: one entry ever; every: at most one per ``days``; each_event: every triggering
    event (an invoice) its own entry, several at once."""

    policy: Literal["once", "every", "each_event"] = "once"
    days: int | None = Field(default=None, ge=1, description="every: at most once per N days")

    @model_validator(mode="after")
    def _days(self) -> Reentry:
        if (self.policy == "every") != (self.days is not None):
            raise ValueError("days is required for policy 'every' and only for it")
        return self


class Send(_Strict):
    templates: dict[str, str] = Field(min_length=1)
    variants: list[Variant] = Field(default_factory=lambda: [Variant(id="A", weight=1)])
    expires_after: Duration | None = Field(
        default=None,
        description="skip the message when it cannot go out this long after it was due "
        "(quiet hours, a late run); without it the step waits for the window",
    )

    @field_validator("templates")
    @classmethod
    def _languages(cls, v: dict[str, str]) -> dict[str, str]:
        return check_languages(v)

    @model_validator(mode="after")
    def _variants(self) -> Send:
        if len({v.id for v in self.variants}) != len(self.variants):
            raise ValueError("variant ids must be unique")
        return self

    def templates_for(self, variant: str) -> dict[str, str]:
        v = next(x for x in self.variants if x.id == variant)
        return v.templates or self.templates

    def template_sets(self) -> list[tuple[str, dict[str, str]]]:
        """(field, templates) of the step and of each variant with its own templates."""
        return [("templates", self.templates)] + [
            (f"variants[{j}].templates", v.templates)
            for j, v in enumerate(self.variants)
            if v.templates
        ]


class WaitUntil(_Strict):
    time: dt.time = Field(description="the recipient's local time of day")
    anchor: Literal["reached", "due_date"] = Field(
        default="reached",
        description="reached: the first such time after the step is reached; due_date: on "
        "the entry invoice's due date plus offset_days",
    )
    offset_days: int = 0


class WaitFor(_Strict):
    event: Literal["clicked", "replied", "purchased"]
    timeout: Duration
    then: str = NEXT
    timeout_then: str = NEXT


class Condition(_Strict):
    """Exactly one test; ``bought_since_entry: false`` tests the opposite."""

    bought_since_entry: bool | None = None
    bought_entry_items: bool | None = None
    clicked_since_entry: bool | None = None
    replied_since_entry: bool | None = None
    in_segment: str | None = None
    not_in_segment: str | None = None
    filter: Filter | None = None

    @model_validator(mode="after")
    def _one(self) -> Condition:
        given = [k for k, v in self.model_dump(exclude_none=True).items()]
        if len(given) != 1:
            raise ValueError(
                "a condition tests exactly one of bought_since_entry, bought_entry_items, "
                "clicked_since_entry, replied_since_entry, in_segment, not_in_segment, filter"
            )
        for segment in (self.in_segment, self.not_in_segment):
            if segment is not None:
                _check_segments([segment])
        return self


class Branch(_Strict):
    when: Condition
    then: str = NEXT
    otherwise: str = Field(default=NEXT, alias="else")


class Step(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,30}$")
    send: Send | None = None
    wait: Duration | None = None
    wait_until: WaitUntil | None = None
    wait_for: WaitFor | None = None
    branch: Branch | None = None

    @model_validator(mode="after")
    def _one_action(self) -> Step:
        actions = [a for a in ACTIONS if getattr(self, a) is not None]
        if len(actions) != 1:
            raise ValueError(
                f"a step does exactly one of {', '.join(ACTIONS)}; found {actions or 'none'}"
            )
        return self

    @property
    def action(self) -> str:
        return next(a for a in ACTIONS if getattr(self, a) is not None)

    def targets(self) -> list[str]:
        if self.branch is not None:
            return [self.branch.then, self.branch.otherwise]
        if self.wait_for is not None:
            return [self.wait_for.then, self.wait_for.timeout_then]
        return []


ACTIONS = ("send", "wait", "wait_until", "wait_for", "branch")


class Journey(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,48}$")
    name: str
    kind: Literal["marketing", "transactional"] = "marketing"
    entry: Trigger
    steps: list[Step] = Field(min_length=1)
    exits: list[
        Literal[
            "purchased",
            "purchased_entry_items",
            "opted_out",
            "invoice_paid",
            "left_segment",
            "higher_priority_journey",
        ]
    ] = Field(default_factory=lambda: ["opted_out"])
    reentry: Reentry = Field(default_factory=Reentry)
    holdout_percent: float = Field(default=10, ge=0, le=50)
    priority: int = Field(default=0, ge=0, le=100)
    cap: Cap | None = Field(default=None, description="this journey's own per-person cap")
    send_window: Window = Field(default_factory=Window)
    fallback_language: str = "en"
    sender_ids: dict[str, str] = Field(min_length=1)
    link_base_url: str = "https://sms.example"
    start_date: dt.date
    end_date: dt.date | None = None
    source: str = Field(default="", exclude=True)

    @model_validator(mode="after")
    def _consistent(self) -> Journey:
        ids = [s.id for s in self.steps]
        doubled = sorted({i for i in ids if ids.count(i) > 1})
        if doubled:
            raise ValueError(f"step ids must be unique; repeated: {doubled}")
        for i, step in enumerate(self.steps):
            for target in step.targets():
                if target not in (NEXT, END) and target not in ids:
                    raise ValueError(
                        f"steps[{i}] ({step.id}) goes to {target!r}: no such step "
                        f"(use a step id, {NEXT!r} or {END!r})"
                    )
                if target in ids and ids.index(target) <= i:
                    raise ValueError(
                        f"steps[{i}] ({step.id}) goes back to {target!r}: a journey only moves "
                        "forward, so every entry ends"
                    )
            if step.send is not None:
                for where, templates in step.send.template_sets():
                    if self.fallback_language not in templates:
                        raise ValueError(
                            f"steps[{i}].send.{where} lacks the fallback language "
                            f"{self.fallback_language!r}"
                        )
        if not any(s.send is not None for s in self.steps):
            raise ValueError("a journey needs at least one send step")
        invoice = self.entry.event == "invoice_open"
        if "invoice_paid" in self.exits and not invoice:
            raise ValueError("exit invoice_paid needs the invoice_open trigger")
        if "left_segment" in self.exits and self.entry.event != "segment_entered":
            raise ValueError("exit left_segment needs the segment_entered trigger")
        if "purchased_entry_items" in self.exits and self.entry.event != "checkout_abandoned":
            raise ValueError("exit purchased_entry_items needs the checkout_abandoned trigger")
        for i, step in enumerate(self.steps):
            if step.wait_until and step.wait_until.anchor == "due_date" and not invoice:
                raise ValueError(f"steps[{i}].wait_until anchor due_date needs invoice_open")
        if self.kind == "transactional" and self.entry.event != "invoice_open":
            raise ValueError(
                "only invoice reminders may be transactional: a message without marketing "
                "opt-in must be about the customer's own account, not a promotion"
            )
        if "opted_out" not in self.exits:
            raise ValueError("exits must include opted_out: a STOP ends every journey")
        bad = [k for k in self.sender_ids if k != "default" and not (len(k) == 2 and k.isupper())]
        if bad or "default" not in self.sender_ids:
            raise ValueError("sender_ids: ISO country codes and a 'default'")
        if self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        return self

    def is_active(self, day: dt.date) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)

    def index(self, step_id: str) -> int:
        return [s.id for s in self.steps].index(step_id)

    def sender_for(self, country: str | None) -> str:
        return self.sender_ids.get(country or "", self.sender_ids["default"])


def load_journey(path: Path, validate_template=None) -> Journey:
    """One journey file; ``validate_template(text, tokens)`` checks each template if given."""
    data = read_mapping(path, JourneyError, "a journey file is a YAML mapping of fields")
    journey = validate(Journey, {**data, "source": str(path)}, path, JourneyError)
    if journey.id != path.stem:
        raise JourneyError(f"{path}: field id: must be the file name {path.stem!r}")
    if validate_template is not None:
        tokens = INVOICE_TOKENS if journey.entry.event == "invoice_open" else frozenset()
        for i, step in enumerate(journey.steps):
            if step.send is None:
                continue
            for where, templates in step.send.template_sets():
                for language, text in templates.items():
                    try:
                        validate_template(text, tokens)
                    except Exception as exc:  # noqa: BLE001 - any template error names the field
                        raise JourneyError(
                            f"{path}: field steps[{i}].send.{where}.{language}: {exc}"
                        ) from exc
    return journey


# The extra tokens an invoice reminder's templates may use (the entry's invoice).
INVOICE_TOKENS = frozenset({"invoice_number", "amount_due", "due_date"})


def scan_journeys(
    folder: Path, validate_template=None, taken_ids: frozenset[str] = frozenset()
) -> tuple[list[Journey], list[BrokenFile]]:
    """Every journey file in ``folder``: the valid ones by priority (highest first), then id,
    and the broken ones with their errors. ``taken_ids`` are campaign ids: a journey
    measured in the same ledger must not share one. A missing folder holds no journeys."""
    if not folder.is_dir():
        return [], []
    files = sorted(p for suffix in CAMPAIGN_SUFFIXES for p in folder.glob(f"*{suffix}"))
    stems = [p.stem for p in files]
    journeys, broken = [], []
    for path in files:
        if stems.count(path.stem) > 1:
            others = " and ".join(str(q) for q in files if q.stem == path.stem and q != path)
            broken.append(
                BrokenFile(path, f"{path}: journey {path.stem!r} is also defined by {others}")
            )
            continue
        if path.stem in taken_ids:
            broken.append(
                BrokenFile(
                    path,
                    f"{path}: field id: {path.stem!r} is also a campaign id; journeys and "
                    "campaigns share the ledger, so their ids must differ",
                )
            )
            continue
        try:
            journeys.append(load_journey(path, validate_template))
        except JourneyError as exc:
            broken.append(BrokenFile(path, str(exc)))
    return sorted(journeys, key=lambda j: (-j.priority, j.id)), sorted(broken, key=lambda b: b.path)
