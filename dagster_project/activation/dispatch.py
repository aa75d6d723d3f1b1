"""Send what is due: re-check each message at the last moment, then batches through the gateway.

``dispatch`` runs hourly (and after each plan). For every ledger row that is
``planned`` or ``deferred`` and due, it checks again, against
``marts.dim_sms_reachability`` as it is now (the one rule the planner and the
compliance gate read too, a view over live consent and suppression) and the
recipient's local clock:

* a message whose phone may no longer receive its kind (a marketing phone no
  longer opted in, any phone suppressed) is skipped with the view's reason (an
  opt-out received before this run is honoured);
* a message whose window is closed in any of the zones stored on its row (the
  zones the plan considered, under the regional rules) is deferred to the next
  moment it is open in all of them; with none within the horizon, skipped.

Each message carries the moment its window closes (``expires_at``): the gateway
sets the provider's validity from it, and a message that waited past it in our
own queue is not sent but deferred again.

The rest go out in batches: the batch is marked ``sending`` and committed,
sent, and its final states written in bulk. Rows a crashed run left in
``sending`` are resent only through a gateway that honours the idempotency key;
otherwise they become ``unknown`` and are never resent.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from dagster_project import opstore
from dagster_project.activation import ledger
from dagster_project.activation.campaigns import Campaign, Policy
from dagster_project.activation.gateway.types import WINDOW_CLOSED, OutboundMessage
from dagster_project.activation.send_rules import SendClock, Slot
from dagster_project.activation.whereabouts import Whereabouts, locate
from dagster_project.contracts import landed_files, tracked_links

# The due part of the ledger, in the operational store. On PostgreSQL a message a worker
# holds under a live lease is not due: it is being sent. One left ``sending`` without a
# lease (a one-process dispatch that died) or with a lapsed one is, as a crashed send.
DUE_SQL = f"""
SELECT
    message_key, campaign_id, customer_id, kind, state, phone_e164, time_zone,
    country, candidate_zones, zone_source, send_regions, sender, body, scheduled_at
FROM sms.ledger
WHERE state IN {ledger.SENDABLE + ("sending",)} AND scheduled_at <= ? {{held}}
ORDER BY scheduled_at, message_key
"""
HELD_ELSEWHERE = (
    "AND NOT (state = 'sending' AND coalesce(lease_until >= now() AT TIME ZONE 'UTC', false))"
)

# The one reachability rule, in the warehouse, for the due messages' phones.
REACHABILITY_SQL = """
SELECT
    p.phone_e164,
    coalesce(r.consent_state, 'none') AS consent_state,
    r.suppression_reasons AS suppression,
    r.may_receive_marketing, r.may_receive_transactional,
    r.marketing_blocked_step, r.transactional_blocked_step,
    r.marketing_blocked_reason, r.transactional_blocked_reason
FROM _due_phones AS p
LEFT JOIN marts.dim_sms_reachability AS r ON r.phone_e164 = p.phone_e164
"""


def due_messages(conn, store, now: dt.datetime) -> pd.DataFrame:
    """Due ledger rows (``store``) with their phone's reachability now (warehouse ``conn``):
    ``may_receive``, ``blocked_step`` and ``blocked_reason`` for the message's kind; a phone
    the view does not know may not receive anything."""
    held = HELD_ELSEWHERE if opstore.is_postgres(store) else ""
    due = store.execute(DUE_SQL.format(held=held), [now.replace(tzinfo=None)]).df()
    phones = pd.DataFrame({"phone_e164": due["phone_e164"].dropna().unique()}, dtype=object)
    conn.register("_due_phones", phones)
    try:
        reach = conn.execute(REACHABILITY_SQL).df()
    finally:
        conn.unregister("_due_phones")
    frame = due.merge(reach, on="phone_e164", how="left")
    marketing = (frame["kind"] == "marketing").to_numpy()

    def pick(column: str) -> pd.Series:
        chosen = pd.Series(
            np.where(marketing, frame[f"marketing_{column}"], frame[f"transactional_{column}"]),
            index=frame.index,
            dtype=object,
        )
        return chosen.where(chosen.notna(), None)

    frame["consent_state"] = frame["consent_state"].fillna("none")
    may = np.where(marketing, frame["may_receive_marketing"], frame["may_receive_transactional"])
    frame["may_receive"] = pd.Series(may, index=frame.index).fillna(False).astype(bool)
    frame["blocked_step"] = pick("blocked_step")
    frame["blocked_reason"] = pick("blocked_reason").fillna("no valid mobile number")
    return frame.drop(
        columns=[
            c
            for c in frame.columns
            if c.startswith(("marketing_", "transactional_", "may_receive_"))
        ]
    )


class UnreadOutcomes(RuntimeError):
    """The receiver's landing log holds events not yet loaded: one of them may be a STOP."""


class UnloadedConsent(RuntimeError):
    """A CRM consent file has landed and is not loaded: it may hold a STOP."""


def unloaded_consent_files(conn, landing_dir: Path, now: dt.datetime) -> list[Path]:
    """Landed CRM consent files due by ``now`` that no load has read as they are now."""
    return landed_files.unloaded(
        conn, "crm_consent", landing_dir, landed_files.CONSENT_FOLDER,
        landed_files.CONSENT_PATTERN, landed_files.through(now),
    )  # fmt: skip


def unread_outcome_bytes(conn, events_dir: Path) -> int:
    """Bytes of the webhook landing log that ``raw/sms_events`` has not loaded yet.

    Reads the ingest layer's offsets table (written in the same transaction as
    the events); no table yet means nothing was ever loaded.
    """
    files = sorted(events_dir.glob("events-*.jsonl")) if events_dir.exists() else []
    if not files:
        return 0
    known = conn.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'ingest' AND table_name = 'event_log_offsets'"
    ).fetchall()[0][0]
    done = (
        dict(conn.execute("SELECT file, byte_offset FROM ingest.event_log_offsets").fetchall())
        if known
        else {}
    )
    return sum(max(0, f.stat().st_size - done.get(f.name, 0)) for f in files)


@dataclass
class DispatchReport:
    due: int = 0
    sent: dict[str, int] = field(default_factory=dict)  # final state -> count
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> count
    deferred: int = 0
    recovered_unknown: int = 0
    resent_after_crash: int = 0
    window_closed_in_queue: int = 0  # waited past their window here: deferred, never sent
    expired_at_provider: int = 0  # accepted earlier, dropped by the provider at their window's end
    outcomes: dict[str, int] = field(default_factory=dict)
    worker_restarts: int = 0  # parallel dispatch: workers started again after one died


def stored_whereabouts(row) -> Whereabouts:
    """The zones and regions the plan considered, as its ledger row keeps them.

    A row planned before they were stored gets its phone's zones and its profile
    zone together: more zones, never fewer.
    """
    zones = row.candidate_zones if isinstance(row.candidate_zones, str) else ""
    if zones:
        regions = row.send_regions if isinstance(row.send_regions, str) else ""
        sep = ledger.LIST_SEPARATOR
        return Whereabouts(
            tuple(zones.split(sep)), str(row.zone_source), tuple(filter(None, regions.split(sep)))
        )
    country = row.country if isinstance(row.country, str) else None
    zone = row.time_zone if isinstance(row.time_zone, str) else None
    return locate(row.phone_e164, home_store_time_zone=zone, home_store_country=country)


def _recheck(row, campaign: Campaign | None, now: dt.datetime, clock: SendClock):
    """('send' | 'skip' | 'defer', reason or slot) for one due row."""
    if campaign is None:
        return "skip", "campaign file removed"
    if not row.may_receive:
        # the view's reason, worded for a message that was fine when it was planned
        if row.blocked_step == "opt_in":
            return "skip", f"no longer opted in at send time ({row.consent_state}): " + str(
                row.blocked_reason
            )
        return "skip", f"{row.blocked_reason} at send time"
    where = stored_whereabouts(row)
    window = campaign.send_window.bounds
    slot = clock.slot(now, where, window, row.kind)
    if slot is None:
        return "skip", clock.why_none(where, window, row.kind)
    if not slot.open_now:
        return "defer", slot
    return "send", slot


def _next_after(row, campaign: Campaign, moment: dt.datetime, clock: SendClock) -> Slot | None:
    """The next opening after ``moment`` (the end of a window the message missed)."""
    return clock.slot(moment, stored_whereabouts(row), campaign.send_window.bounds, row.kind)


def dispatch(
    conn,
    gateway,
    campaigns: Mapping[str, Campaign],
    now: dt.datetime,
    *,
    policy: Policy,
    run_id: str | None = None,
    batch_size: int = 1000,
    log=None,
    events_dir: Path | None = None,
    landing_dir: Path | None = None,
    links_path: Path | None = None,
    wall_now: dt.datetime | None = None,
    store=None,
    workers: int = 1,
    lease_s: float = 60.0,
    on_spawn=None,
) -> DispatchReport:
    """Send every due message once; ``gateway`` has ``send(messages)`` and ``adapter()``.

    ``conn`` is the warehouse (reachability, loaded events); the ledger is in ``store``,
    the operational store (the warehouse itself by default). ``policy`` brings the
    regional send rules; ``wall_now`` is the real clock at ``now`` (default: the real
    clock), so a replayed ``now`` (the sandbox demo) still hands the gateway expiry times
    on the clock the gateway keeps.

    With ``events_dir`` (the webhook landing log), refuses to send while events
    there are not loaded yet: a STOP received before this run must count. With
    ``landing_dir``, refuses as well while a CRM consent file that landed there is not
    loaded (the dispatch job loads them first: ``ingest/crm_consent_catch_up``). With
    ``links_path`` (the link registry), registers each batch's tracked links there
    before sending it, so the receiver can redirect the first click.

    ``workers`` > 1 (PostgreSQL store only): this run re-checks and approves, then that
    many worker processes claim and send the approved messages (``dispatch_workers``),
    each under a lease of ``lease_s`` seconds; ``on_spawn(pid)`` is told of each.
    """
    store = conn if store is None else store
    if workers > 1 and not opstore.is_postgres(store):
        raise ValueError(
            f"{workers} dispatch workers need the PostgreSQL operational store "
            "(SMS_OPSTORE=postgres); the embedded store takes one writer"
        )
    if events_dir is not None and (unread := unread_outcome_bytes(conn, events_dir)):
        raise UnreadOutcomes(
            f"{unread:,} bytes of outcome events in {events_dir} are not loaded yet (they may "
            "hold an opt-out): materialize raw/sms_events first (the dispatch job does)"
        )
    if landing_dir is not None and (files := unloaded_consent_files(conn, landing_dir, now)):
        raise UnloadedConsent(
            f"{len(files)} landed CRM consent file(s) are not loaded (they may hold an "
            f"opt-out), e.g. {files[0]}: materialize ingest/crm_consent_catch_up first "
            "(the dispatch job does)"
        )
    ledger.ensure(store)
    started = time.monotonic()
    report = DispatchReport()
    report.expired_at_provider = ledger.record_expiries(conn, store)
    due = due_messages(conn, store, now)
    idempotent = bool(gateway.adapter().honours_idempotency_key)
    crashed = due[due["state"] == "sending"]
    if len(crashed) and not idempotent:
        ledger.set_state(
            store,
            crashed["message_key"].tolist(),
            "unknown",
            "fate unknown after an interrupted send; not resent "
            "(the gateway has no idempotency key)",
        )
        report.recovered_unknown = len(crashed)
        due = due[due["state"] != "sending"]
    elif len(crashed):
        report.resent_after_crash = len(crashed)
    report.due = len(due)

    clock = policy.clock
    # Expiry times go to the gateway on the wall clock: shift by how far ``now`` is from it.
    shift = (wall_now or dt.datetime.now(dt.UTC)) - now
    to_send, slots, skips, defers = [], {}, {}, []
    for row in due.itertuples():
        verdict, detail = _recheck(row, campaigns.get(row.campaign_id), now, clock)
        if verdict == "send":
            to_send.append(row)
            slots[row.message_key] = detail
        elif verdict == "defer":
            defers.append(_deferral(row.message_key, detail))
        else:
            skips.setdefault(detail, []).append(row.message_key)
    _apply(store, report, skips, defers)

    if workers > 1:
        _send_in_parallel(
            store, gateway, campaigns, to_send, slots, report, clock=clock, now=now,
            shift=shift, run_id=run_id, batch_size=batch_size, workers=workers,
            lease_s=lease_s, links_path=links_path, on_spawn=on_spawn, log=log,
        )  # fmt: skip
        return report

    for start in range(0, len(to_send), batch_size):
        batch = to_send[start : start + batch_size]
        keys = [r.message_key for r in batch]
        if links_path is not None:
            # On disk before the batch leaves: a recipient may click the moment it lands.
            tracked_links.append_links(ledger.links_for(store, keys), links_path)
        expiries = {k: slots[k].until for k in keys}
        ledger.mark_sending(store, keys, now, run_id, expiries)
        messages = [
            OutboundMessage(
                key=r.message_key, to=r.phone_e164, sender=r.sender, text=r.body, kind=r.kind,
                expires_at=expiries[r.message_key] + shift,
            )
            for r in batch
        ]  # fmt: skip
        frame = ledger.results_frame(gateway.send(messages), keys)
        closed = frame["error_code"] == WINDOW_CLOSED
        if closed.any():
            # Never left: it waited past its window here. Next opening, or skipped.
            by_key = {r.message_key: r for r in batch}
            _reschedule_closed(
                store, report, [by_key[k] for k in frame.loc[closed, "key"]], campaigns,
                {k: slots[k].until for k in frame.loc[closed, "key"]}, clock,
            )  # fmt: skip
            frame = frame[~closed]
        # On the run's clock (``now`` plus time spent), so a replayed clock stays consistent.
        ledger.record_results(store, frame, now + dt.timedelta(seconds=time.monotonic() - started))
        for state, n in frame["state"].value_counts().items():
            report.sent[state] = report.sent.get(state, 0) + int(n)
        for outcome, n in frame["outcome"].dropna().value_counts().items():
            report.outcomes[outcome] = report.outcomes.get(outcome, 0) + int(n)
        if log:
            log(f"batch of {len(batch)}: {frame['state'].value_counts().to_dict()}")
    return report


def _reschedule_closed(store, report, rows, campaigns, ends, clock) -> None:
    """Messages that waited past their window's end (``ends``) in our queue: deferred to
    the next opening after it, or skipped with the reason there is none."""
    late_skips, late_defers = {}, []
    for row in rows:
        campaign = campaigns.get(row.campaign_id)
        if campaign is None:
            late_skips.setdefault("campaign file removed", []).append(row.message_key)
            continue
        found = _next_after(row, campaign, ends[row.message_key], clock)
        if found is None:
            reason = clock.why_none(stored_whereabouts(row), campaign.send_window.bounds, row.kind)
            late_skips.setdefault(reason, []).append(row.message_key)
        else:
            late_defers.append(_deferral(row.message_key, found))
    _apply(store, report, late_skips, late_defers)
    report.window_closed_in_queue += len(rows)


def _send_in_parallel(
    store, gateway, campaigns, to_send, slots, report, *, clock, now, shift, run_id,
    batch_size, workers, lease_s, links_path, on_spawn, log,
) -> None:  # fmt: skip
    """Approve ``to_send`` for this run, let ``workers`` processes send it, and settle what
    they leave: window-closed messages rescheduled, a dead worker's messages resent
    (idempotent gateway) or marked ``unknown``."""
    from dagster_project.activation import dispatch_workers
    from dagster_project.opstore import claims

    if not run_id:
        raise ValueError("parallel dispatch needs a run id: the workers claim by it")
    keys = [r.message_key for r in to_send]
    approved = pd.DataFrame(
        {
            "message_key": keys,
            "expires_at": pd.to_datetime(
                [slots[k].until.astimezone(dt.UTC).replace(tzinfo=None) for k in keys]
            ),
        }
    )
    claims.approve(store, run_id, approved)
    if links_path is not None and keys:
        # On disk before any worker sends: a recipient may click the moment it lands.
        tracked_links.append_links(ledger.links_for(store, keys), links_path)
    supervised = dispatch_workers.supervise(
        store, gateway, run_id, workers=workers, batch_size=batch_size, lease_s=lease_s,
        run_now=now, shift=shift, on_spawn=on_spawn, log=log,
    )  # fmt: skip
    report.recovered_unknown += supervised.settled_unknown
    report.worker_restarts = supervised.restarts
    closed = set(claims.take_window_closed(store, run_id))
    if closed:
        rows = [r for r in to_send if r.message_key in closed]
        _reschedule_closed(
            store, report, rows, campaigns, {k: slots[k].until for k in closed}, clock
        )
    report.sent, report.outcomes = claims.run_states(store, run_id)


def _deferral(key: str, slot: Slot) -> dict:
    return {
        "message_key": key,
        "scheduled_at": slot.at.replace(tzinfo=None),
        "window_ends_at": slot.until.replace(tzinfo=None),
    }


def _apply(store, report: DispatchReport, skips: dict[str, list[str]], defers: list[dict]) -> None:
    for reason, keys in skips.items():
        ledger.set_state(store, keys, "skipped", reason, step="send_time_check")
        report.skipped[reason] = report.skipped.get(reason, 0) + len(keys)
    ledger.reschedule(
        store, pd.DataFrame(defers, columns=["message_key", "scheduled_at", "window_ends_at"])
    )
    report.deferred += len(defers)
