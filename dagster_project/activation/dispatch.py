"""Send what is due: re-check each message at the last moment, then batches through the gateway.

``dispatch`` runs hourly (and after each plan). For every ledger row that is
``planned`` or ``deferred`` and due, it checks again, against the consent and
suppression views as they are now and the recipient's local clock:

* a marketing message whose phone is no longer opted in, or is suppressed, is
  skipped with the reason (an opt-out received before this run is honoured);
* a message whose local window is closed is deferred to its next opening.

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

from dagster_project import tracked_links
from dagster_project.activation import eligibility, ledger
from dagster_project.activation.campaigns import Campaign

DUE_SQL = f"""
SELECT
    l.message_key, l.campaign_id, l.customer_id, l.kind, l.state, l.phone_e164, l.time_zone,
    l.sender, l.body, l.scheduled_at,
    coalesce(c.consent_state, 'none') AS consent_state,
    s.reasons AS suppression
FROM sms.ledger AS l
LEFT JOIN marts.sms_consent AS c ON c.phone_e164 = l.phone_e164
LEFT JOIN (
    SELECT phone_e164, string_agg(DISTINCT suppression_reason, ', ') AS reasons
    FROM marts.sms_suppression GROUP BY 1
) AS s ON s.phone_e164 = l.phone_e164
WHERE l.state IN {ledger.SENDABLE + ("sending",)} AND l.scheduled_at <= ?
ORDER BY l.scheduled_at, l.message_key
"""


class UnreadOutcomes(RuntimeError):
    """The receiver's landing log holds events not yet loaded: one of them may be a STOP."""


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
    outcomes: dict[str, int] = field(default_factory=dict)


def _recheck(row, campaign: Campaign | None, now: dt.datetime):
    """('send' | 'skip' | 'defer', reason or next opening) for one due row."""
    if campaign is None:
        return "skip", "campaign file removed"
    if row.kind == "marketing" and row.consent_state != "opted_in":
        return "skip", f"no longer opted in at send time ({row.consent_state})"
    if isinstance(row.suppression, str) and row.suppression:
        return "skip", f"suppressed at send time: {row.suppression}"
    tz = eligibility.zone(row.time_zone)
    if tz is None:
        return "skip", "no usable time zone"
    w = campaign.send_window
    is_open, slot = eligibility.window_slot(now, tz, w.start, w.end)
    if not is_open:
        return "defer", slot
    return "send", None


def dispatch(
    conn,
    gateway,
    campaigns: Mapping[str, Campaign],
    now: dt.datetime,
    run_id: str | None = None,
    batch_size: int = 1000,
    log=None,
    events_dir: Path | None = None,
    links_path: Path | None = None,
) -> DispatchReport:
    """Send every due message once; ``gateway`` has ``send(messages)`` and ``adapter()``.

    With ``events_dir`` (the webhook landing log), refuses to send while events
    there are not loaded yet: a STOP received before this run must count. With
    ``links_path`` (the link registry), registers each batch's tracked links there
    before sending it, so the receiver can redirect the first click.
    """
    from dagster_project.activation.gateway.types import OutboundMessage

    if events_dir is not None and (unread := unread_outcome_bytes(conn, events_dir)):
        raise UnreadOutcomes(
            f"{unread:,} bytes of outcome events in {events_dir} are not loaded yet (they may "
            "hold an opt-out): materialize raw/sms_events first (the dispatch job does)"
        )
    ledger.ensure(conn)
    started = time.monotonic()
    report = DispatchReport()
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

    to_send, skips, defers = [], {}, []
    for row in due.itertuples():
        verdict, detail = _recheck(row, campaigns.get(row.campaign_id), now)
        if verdict == "send":
            to_send.append(row)
        elif verdict == "defer":
            defers.append(
                {"message_key": row.message_key, "scheduled_at": detail.replace(tzinfo=None)}
            )
        else:
            skips.setdefault(detail, []).append(row.message_key)
    for reason, keys in skips.items():
        ledger.set_state(conn, keys, "skipped", reason, step="send_time_check")
        report.skipped[reason] = len(keys)
    ledger.reschedule(conn, pd.DataFrame(defers, columns=["message_key", "scheduled_at"]))
    report.deferred = len(defers)

    for start in range(0, len(to_send), batch_size):
        batch = to_send[start : start + batch_size]
        keys = [r.message_key for r in batch]
        if links_path is not None:
            # On disk before the batch leaves: a recipient may click the moment it lands.
            tracked_links.append_links(ledger.links_for(conn, keys), links_path)
        ledger.mark_sending(conn, keys, now, run_id)
        messages = [
            OutboundMessage(
                key=r.message_key, to=r.phone_e164, sender=r.sender, text=r.body, kind=r.kind
            )
            for r in batch
        ]
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
        # On the run's clock (``now`` plus time spent), so a replayed clock stays consistent.
        ledger.record_results(conn, frame, now + dt.timedelta(seconds=time.monotonic() - started))
        for state, n in frame["state"].value_counts().items():
            report.sent[state] = report.sent.get(state, 0) + int(n)
        for outcome, n in frame["outcome"].dropna().value_counts().items():
            report.outcomes[outcome] = report.outcomes.get(outcome, 0) + int(n)
        if log:
            log(f"batch of {len(batch)}: {frame['state'].value_counts().to_dict()}")
    return report
