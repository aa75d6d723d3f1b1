"""Advance every journey at ``now``: new entries from the warehouse, steps due, messages.

For each journey, highest priority first (so a collision on the shared caps is won by
the higher priority, as with campaigns):

1. **entries**: the trigger's events of the last ``within_hours`` (``facts.TRIGGER_SQL``),
   kept when the customer may receive the journey's kind now (the one reachability
   rule, ``marts.dim_sms_reachability``), passes the trigger's filters and the re-entry
   rule; the arm is drawn from a hash of journey and customer;
2. **facts** of every active entry's customer: events (``marts.fct_customer_events``),
   segments, attributes, verdict, the zone for local times, invoices settled;
3. ``engine.advance`` runs each entry's due steps; each send reached goes through the
   same delivery rules as a campaign's message (``eligibility.deliver``: verdict,
   window in every zone, caps shared with campaigns, holdout) and becomes an ordinary
   ledger row carrying the journey, entry and step, with its consent evidence; the
   dispatch sends it like any other;
4. the entries' new state and their ledger rows are saved in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd

from dagster_project.activation import eligibility, ledger, planner
from dagster_project.activation.campaigns import Policy
from dagster_project.journeys import engine, state
from dagster_project.journeys.engine import ACTIVE, HOLDOUT, Entry, Facts
from dagster_project.journeys.facts import (
    aware,
    events_of,
    naive,
    settled_invoices,
    strings,
    triggered,
)
from dagster_project.journeys.spec import INVOICE_TOKENS, Journey


@dataclass
class JourneyReport:
    journey_id: str
    entered: int = 0
    not_entered: dict[str, int] = field(default_factory=dict)  # reason -> count
    advanced: int = 0
    exited: dict[str, int] = field(default_factory=dict)
    completed: int = 0
    messages: dict[str, int] = field(default_factory=dict)  # ledger state -> count
    written: int = 0
    displaced: int = 0  # lower-priority messages not yet sent that gave way (caps)
    withdrawn: int = 0  # messages not yet sent of entries that exited
    next_due_at: dt.datetime | None = None


def pick_variant(journey: Journey, step_id: str, customer_id: str) -> str:
    variants = journey.step(step_id).send.variants
    point = eligibility.stable_fraction("variant", journey.id, step_id, customer_id)
    point *= sum(v.weight for v in variants)
    for v in variants:
        point -= v.weight
        if point < 0:
            return v.id
    return variants[-1].id


def _anchor(record: dict) -> dict:
    anchor = {"skus": sorted(strings(record.get("skus")))}
    for f in ("invoice_id", "amount", "currency", "due_on"):
        value = record.get(f)
        if value is not None and not (pd.api.types.is_scalar(value) and pd.isna(value)):
            anchor[f] = value.date().isoformat() if isinstance(value, pd.Timestamp) else str(value)
    return anchor


def _facts(journey, record, events, higher, settled, entry) -> Facts:
    c = planner.to_candidate(record)
    verdict = c.verdict(journey.kind)
    zone = eligibility.whereabouts_of(c).zones[0] if c.phone_e164 else "UTC"
    return Facts(
        events=tuple(events),
        segments=c.segments,
        attributes=c.attributes,
        may_receive=verdict.may_receive,
        blocked_reason=verdict.reason,
        zone=zone,
        higher_priority_entered_at=higher.get(entry.customer_id),
        invoice_settled=str(entry.anchor.get("invoice_id")) in settled,
    )


def advance_journey(
    conn,
    journey: Journey,
    now: dt.datetime,
    policy: Policy,
    prices,
    renderer_factory,
    run_id: str | None = None,
    higher_priority: tuple[str, ...] = (),
    priorities: dict[str, int] | None = None,
    store=None,
) -> JourneyReport:
    """Enter, advance and save one journey at ``now`` (UTC, aware). Facts come from the
    warehouse (``conn``); entries and messages live in the operational ``store`` (the
    warehouse itself by default)."""
    store = conn if store is None else store
    report = JourneyReport(journey.id)
    priorities = priorities or {journey.id: journey.priority}
    active = state.entries(store, journey.id)
    fresh = triggered(conn, journey, now) if journey.is_active(now.date()) else pd.DataFrame()
    triggered_customers = sorted(set(fresh.get("customer_id", [])))
    earlier: dict[str, list[Entry]] = defaultdict(list)
    for e in state.entries(store, journey.id, customers=triggered_customers):
        earlier[e.customer_id].append(e)
    wanted = {e.customer_id for e in active} | set(triggered_customers)
    records = {r["customer_id"]: r for r in planner.candidates_for(conn, wanted)}

    def refuse(reason: str) -> None:
        report.not_entered[reason] = report.not_entered.get(reason, 0) + 1

    new: list[Entry] = []
    for r in fresh.to_dict("records"):
        record = records.get(r["customer_id"])
        if record is None:
            refuse("not a known customer")
            continue
        c = planner.to_candidate(record)
        verdict = c.verdict(journey.kind)
        if not verdict.may_receive:
            refuse(f"{verdict.step}: {verdict.reason}")
            continue
        failed = next(
            (
                f
                for f in journey.entry.filters
                if not eligibility.passes(f, c.attributes.get(f.field))
            ),
            None,
        )
        if failed is not None:
            refuse(f"filter {failed.field} {failed.op} {failed.value}")
            continue
        at = aware(r["event_at"])
        why = engine.may_enter(journey, earlier[c.customer_id], str(r["entry_key"]), at)
        if why:
            refuse(why)
            continue
        entry = Entry(
            journey.id, c.customer_id, str(r["entry_key"]), at,
            engine.draw_arm(journey, c.customer_id), anchor=_anchor(r),
        )  # fmt: skip
        earlier[c.customer_id].append(entry)
        new.append(entry)
    report.entered = len(new)

    running = active + new
    since = min((e.entered_at for e in running), default=now)
    events = events_of(conn, {e.customer_id for e in running}, since) if running else {}
    higher = state.latest_active_entry(store, higher_priority)
    settled = settled_invoices(conn, running) if journey.entry.event == "invoice_open" else set()

    changed, intents, after = [], [], []
    for entry in running:
        record = records.get(entry.customer_id)
        if record is None:  # the customer is gone from the marts (merged, deleted): end it
            moved = engine.close(
                entry, engine.EXITED, "customer no longer in the marts", now, "exit"
            )
        else:
            facts = _facts(
                journey, record, events.get(entry.customer_id, []), higher, settled, entry
            )
            moved, sends = engine.advance(journey, entry, facts, now)
            intents += [(moved, s) for s in sends]
        after.append(moved)
        if moved != entry or entry in new:
            changed.append(moved)
        if moved.status == engine.EXITED:
            reason = (moved.exit_reason or "").split(":")[0]
            report.exited[reason] = report.exited.get(reason, 0) + 1
        elif moved.status == engine.COMPLETED:
            report.completed += 1
    report.advanced = len(changed)
    rows, links, displaced = _messages(
        store, journey, intents, records, now, policy, prices, renderer_factory, run_id, priorities
    )
    for row in rows:
        report.messages[row["state"]] = report.messages.get(row["state"], 0) + 1
    steps = [s.id for s in journey.steps]
    saved = state.save(
        store,
        pd.DataFrame([state.to_row(e, steps, now, run_id) for e in changed], columns=state.COLUMNS),
        pd.DataFrame(rows, columns=ledger.COLUMNS),
        pd.DataFrame(links, columns=["token", "message_key", "target_url"]),
        displaced,
        journey.id,
    )
    report.written = saved["messages"]
    report.displaced = saved["displaced"]
    report.withdrawn = saved["withdrawn"]
    report.next_due_at = min((e.next_due for e in after if e.status == ACTIVE), default=None)
    return report


def _messages(
    conn, journey, intents, records, now, policy, prices, renderer_factory, run_id, priorities
):
    """Ledger rows, links and displaced keys of the sends reached, through the campaigns'
    delivery rules (a collision on the caps is won by the higher priority)."""
    if not intents:
        return [], [], []
    customers = sorted({e.customer_id for e, _ in intents})
    past = ledger.history(conn, customers, now.date(), held_out=True)
    sent: dict[str, list[eligibility.Sent]] = defaultdict(list)
    for r in past.itertuples():
        held = r.state == "held_out"
        sent[r.customer_id].append(
            eligibility.Sent(
                r.campaign_id, r.scheduled_at.to_pydatetime().replace(tzinfo=dt.UTC),
                priorities.get(r.campaign_id, 0), r.message_key,
                held or r.state in ledger.SENDABLE, counts=not held,
            )
        )  # fmt: skip
    program = eligibility.Program(journey.id, journey.kind, journey.send_window.bounds, journey.cap)
    renderers: dict[tuple[str, str], object] = {}
    rows, links, displaced = [], [], []
    planned_at = naive(now)
    for entry, intent in intents:
        record = records[entry.customer_id]
        c = planner.to_candidate(record)
        variant = pick_variant(journey, intent.step, c.customer_id)
        moment = max(now, intent.due_at)
        d = eligibility.deliver(
            c, program, moment, policy, sent[c.customer_id],
            held_out=entry.arm == HOLDOUT, variant=variant, priority=journey.priority,
        )  # fmt: skip
        expires = journey.step(intent.step).send.expires_after
        if (
            d.scheduled_at is not None
            and expires
            and d.scheduled_at > intent.due_at + expires.delta
        ):
            d = eligibility.Decision(
                c.customer_id, "skipped", "send_window",
                f"step expired: could not go out within {expires.delta} "
                f"of {intent.due_at:%Y-%m-%d %H:%M}Z",
                variant, whereabouts=d.whereabouts,
            )  # fmt: skip
        key = ledger.journey_message_key(journey.id, c.customer_id, entry.entry_key, intent.step)
        rendered = None
        if d.state in ("planned", "deferred", "held_out"):
            if (intent.step, variant) not in renderers:
                renderers[(intent.step, variant)] = renderer_factory(journey, intent.step, variant)
            extra = {
                "invoice_number": entry.anchor.get("invoice_id", ""),
                "amount_due": " ".join(
                    str(entry.anchor.get(k, "")) for k in ("amount", "currency")
                ).strip(),
                "due_date": entry.anchor.get("due_on", ""),
            }
            rendered = planner.render(
                renderers[(intent.step, variant)], record, c, key, prices, extra
            )
            if d.state != "held_out":
                links += rendered.links(key)
                gone = set(d.displaces)
                displaced += d.displaces
                sent[c.customer_id] = [s for s in sent[c.customer_id] if s.key not in gone]
                sent[c.customer_id].append(
                    eligibility.Sent(journey.id, d.scheduled_at, journey.priority, key, True)
                )
        rows.append(
            planner.ledger_row(
                key, journey.id, (d.scheduled_at or now).date(), c, d, journey.kind,
                journey.sender_for(c.country), rendered, planned_at, run_id,
                journey_entry=entry.entry_key, journey_step=intent.step,
            )
        )  # fmt: skip
    return rows, links, displaced


def default_renderer_factory(journey: Journey, step_id: str, variant: str):
    from dagster_project.activation.messages import MessageRenderer

    invoice = journey.entry.event == "invoice_open"
    return MessageRenderer(
        templates=journey.step(step_id).send.templates_for(variant),
        fallback_language=journey.fallback_language,
        kind=journey.kind,
        link_base_url=journey.link_base_url,
        link_secret=planner.link_secret(),
        name=f"{journey.source or journey.id}: steps.{step_id}",
        extra_tokens=INVOICE_TOKENS if invoice else frozenset(),
    )


def advance_all(
    conn,
    journeys,
    now,
    policy,
    prices,
    renderer_factory=default_renderer_factory,
    run_id=None,
    priorities: dict[str, int] | None = None,
    store=None,
):
    """Every journey, highest priority first; one report per journey. ``priorities``: of
    every campaign and journey by id (a collision on the caps is won by the higher)."""
    store = conn if store is None else store
    state.ensure(store)
    priorities = {**(priorities or {}), **{j.id: j.priority for j in journeys}}
    reports = []
    ordered = sorted(journeys, key=lambda j: (-j.priority, j.id))
    for journey in ordered:
        higher = tuple(j.id for j in ordered if j.priority > journey.priority)
        reports.append(
            advance_journey(
                conn,
                journey,
                now,
                policy,
                prices,
                renderer_factory,
                run_id,
                higher,
                priorities,
                store=store,
            )
        )
    return reports
