"""Send what is due: re-check each message at the last moment, then batches through the gateway.

``dispatch`` runs hourly (and after each plan). For every ledger row that is
``planned`` or ``deferred`` and due, it checks again, against the consent and
suppression views as they are now and the recipient's local clock:

* a marketing message whose phone is no longer opted in, or is suppressed, is
  skipped with the reason (an opt-out received before this run is honoured);
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

import pandas as pd

from dagster_project.activation import ledger
from dagster_project.activation.campaigns import Campaign, Policy
from dagster_project.activation.send_rules import SendClock, Slot
from dagster_project.activation.whereabouts import Whereabouts, locate
from dagster_project.contracts import landed_files, tracked_links

DUE_SQL = f"""
SELECT
    l.message_key, l.campaign_id, l.customer_id, l.kind, l.state, l.phone_e164, l.time_zone,
    l.country, l.candidate_zones, l.zone_source, l.send_regions,
    l.sender, l.body, l.scheduled_at,
    coalesce(c.consent_state, 'none') AS consent_state,
    s.reasons AS suppression
FROM sms.ledger AS l
LEFT JOIN marts.dim_sms_consent AS c ON c.phone_e164 = l.phone_e164
LEFT JOIN (
    SELECT phone_e164, string_agg(DISTINCT suppression_reason, ', ') AS reasons
    FROM marts.dim_sms_suppression GROUP BY 1
) AS s ON s.phone_e164 = l.phone_e164
WHERE l.state IN {ledger.SENDABLE + ("sending",)} AND l.scheduled_at <= ?
ORDER BY l.scheduled_at, l.message_key
"""


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
    if row.kind == "marketing" and row.consent_state != "opted_in":
        return "skip", f"no longer opted in at send time ({row.consent_state})"
    if isinstance(row.suppression, str) and row.suppression:
        return "skip", f"suppressed at send time: {row.suppression}"
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
) -> DispatchReport:
    """Send every due message once; ``gateway`` has ``send(messages)`` and ``adapter()``.

    ``policy`` brings the regional send rules; ``wall_now`` is the real clock at ``now``
    (default: the real clock), so a replayed ``now`` (the sandbox demo) still hands the
    gateway expiry times on the clock the gateway keeps.

    With ``events_dir`` (the webhook landing log), refuses to send while events
    there are not loaded yet: a STOP received before this run must count. With
    ``landing_dir``, refuses as well while a CRM consent file that landed there is not
    loaded (the dispatch job loads them first: ``ingest/crm_consent_catch_up``). With
    ``links_path`` (the link registry), registers each batch's tracked links there
    before sending it, so the receiver can redirect the first click.
    """
    from dagster_project.activation.gateway.types import WINDOW_CLOSED, OutboundMessage

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
    ledger.ensure(conn)
    started = time.monotonic()
    report = DispatchReport()
    report.expired_at_provider = ledger.record_expiries(conn)
    due = conn.execute(DUE_SQL, [now.replace(tzinfo=None)]).df()
    idempotent = bool(gateway.adapter().honours_idempotency_key)
    crashed = due[due["state"] == "sending"]
    if len(crashed) and not idempotent:
        ledger.set_state(
            conn,
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
    _apply(conn, report, skips, defers)

    for start in range(0, len(to_send), batch_size):
        batch = to_send[start : start + batch_size]
        keys = [r.message_key for r in batch]
        if links_path is not None:
            # On disk before the batch leaves: a recipient may click the moment it lands.
            tracked_links.append_links(ledger.links_for(conn, keys), links_path)
        expiries = {k: slots[k].until for k in keys}
        ledger.mark_sending(conn, keys, now, run_id, expiries)
        messages = [
            OutboundMessage(
                key=r.message_key, to=r.phone_e164, sender=r.sender, text=r.body, kind=r.kind,
                expires_at=expiries[r.message_key] + shift,
            )
            for r in batch
        ]  # fmt: skip
        results = gateway.send(messages)
        frame = pd.DataFrame(
            [
                {
                    "key": r.key,
                    "state": r.state,
                    "provider_message_id": r.provider_message_id,
                    "error_code": r.error_code,
                    "error": r.error,
                    "outcome": r.outcome,
                }
                for r in results
            ],
            columns=["key", "state", "provider_message_id", "error_code", "error", "outcome"],
        )
        missing = set(keys) - set(frame["key"])
        if missing:  # the gateway contract is one result per message; never leave "sending"
            raise RuntimeError(f"gateway returned no result for {len(missing)} message(s)")
        closed = frame["error_code"] == WINDOW_CLOSED
        if closed.any():
            # Never left: it waited past its window here. Next opening, or skipped.
            late_skips, late_defers = {}, []
            by_key = {r.message_key: r for r in batch}
            for key in frame.loc[closed, "key"]:
                row = by_key[key]
                found = _next_after(row, campaigns[row.campaign_id], slots[key].until, clock)
                if found is None:
                    reason = clock.why_none(
                        stored_whereabouts(row), campaigns[row.campaign_id].send_window.bounds,
                        row.kind,
                    )  # fmt: skip
                    late_skips.setdefault(reason, []).append(key)
                else:
                    late_defers.append(_deferral(key, found))
            _apply(conn, report, late_skips, late_defers)
            report.window_closed_in_queue += int(closed.sum())
            frame = frame[~closed]
        # On the run's clock (``now`` plus time spent), so a replayed clock stays consistent.
        ledger.record_results(conn, frame, now + dt.timedelta(seconds=time.monotonic() - started))
        for state, n in frame["state"].value_counts().items():
            report.sent[state] = report.sent.get(state, 0) + int(n)
        for outcome, n in frame["outcome"].dropna().value_counts().items():
            report.outcomes[outcome] = report.outcomes.get(outcome, 0) + int(n)
        if log:
            log(f"batch of {len(batch)}: {frame['state'].value_counts().to_dict()}")
    return report


def _deferral(key: str, slot: Slot) -> dict:
    return {
        "message_key": key,
        "scheduled_at": slot.at.replace(tzinfo=None),
        "window_ends_at": slot.until.replace(tzinfo=None),
    }


def _apply(conn, report: DispatchReport, skips: dict[str, list[str]], defers: list[dict]) -> None:
    for reason, keys in skips.items():
        ledger.set_state(conn, keys, "skipped", reason, step="send_time_check")
        report.skipped[reason] = report.skipped.get(reason, 0) + len(keys)
    ledger.reschedule(
        conn, pd.DataFrame(defers, columns=["message_key", "scheduled_at", "window_ends_at"])
    )
    report.deferred += len(defers)
