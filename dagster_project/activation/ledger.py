"""The send ledger: every planned message, its state and the evidence that allowed it.

One row per candidate of a campaign's plan for a day (``sms.ledger``), keyed by
a deterministic idempotency key ``campaign|customer|day|variant``. States:

    skipped (with the funnel step and reason)   held_out   deferred   planned
    planned/deferred -> sending -> accepted | failed | unknown

``sending`` is written (in bulk, committed) before a batch goes to the gateway;
after a crash, rows still ``sending`` have an unknown fate: they are resent
only through a gateway that honours the idempotency key, otherwise marked
``unknown`` and never resent. The consent evidence (opt-in event, source, text
version) is stored on every row that can be sent. Tracked-link tokens go to
``sms.links`` for the webhook receiver.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd

from dagster_project.opstore import schema

SENDABLE = ("planned", "deferred")
FINAL = ("accepted", "failed", "unknown")
LOCKED = ("sending", *FINAL)  # a re-plan never touches these
COUNTS_FOR_CAPS = ("planned", "deferred", "sending", "accepted", "unknown")


COLUMNS = [
    "message_key", "campaign_id", "plan_day", "customer_id", "variant", "kind", "state",
    "step", "reason", "phone_e164", "time_zone", "country", "sender", "language", "body",
    "encoding", "segments", "cost_usd", "opt_in_event_id", "opt_in_source",
    "opt_in_text_version", "candidate_zones", "zone_source", "send_regions", "scheduled_at",
    "window_ends_at", "planned_at", "run_id", "journey_entry", "journey_step",
]  # fmt: skip
# Zones and regions are stored as text joined by this (no IANA name or ISO code holds one).
LIST_SEPARATOR = ","


def ensure(conn) -> None:
    """The ledger's tables, on the warehouse (embedded store) or on PostgreSQL."""
    schema.ensure_ledger(conn)


def message_key(campaign_id: str, customer_id: str, day: dt.date, variant: str | None) -> str:
    return f"{campaign_id}|{customer_id}|{day.isoformat()}|{variant or '-'}"


def journey_message_key(journey_id: str, customer_id: str, entry_key: str, step: str) -> str:
    """One key per (journey, customer, entry, step): a step's message exists once, ever."""
    return f"{journey_id}|{customer_id}|{entry_key}|{step}"


def _exists(conn) -> bool:
    return bool(
        conn.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'sms' AND table_name = 'ledger'"
        ).fetchall()[0][0]
    )


def locked_customers(conn, campaign_id: str, day: dt.date) -> set[str]:
    """Customers whose message of (campaign, day) is already sending or final."""
    if not _exists(conn):
        return set()
    rows = conn.execute(
        "SELECT customer_id FROM sms.ledger WHERE campaign_id = ? AND plan_day = ? "
        f"AND state IN {LOCKED}",
        [campaign_id, day],
    ).fetchall()
    return {r[0] for r in rows}


def history(
    conn,
    customer_ids: Sequence[str],
    before_day: dt.date,
    days: int = 400,
    held_out: bool = False,
) -> pd.DataFrame:
    """Marketing messages already planned or sent to these customers (for the caps); with
    ``held_out``, the holdout's rows too (they take no slot, but give way in a collision)."""
    if not _exists(conn):  # nothing sent yet (a preview on a fresh copy)
        return pd.DataFrame(
            columns=[
                "customer_id",
                "campaign_id",
                "scheduled_at",
                "plan_day",
                "message_key",
                "state",
            ]
        )
    frame = pd.DataFrame({"customer_id": list(customer_ids)})
    conn.register("_hist_customers", frame)
    try:
        return conn.execute(
            f"""
            SELECT l.customer_id, l.campaign_id, l.scheduled_at, l.plan_day, l.message_key, l.state
            FROM sms.ledger AS l
            JOIN _hist_customers USING (customer_id)
            WHERE l.kind = 'marketing'
              AND l.state IN {COUNTS_FOR_CAPS + (("held_out",) if held_out else ())}
              AND l.plan_day >= CAST(? AS DATE) - INTERVAL '{int(days)} days'
            """,
            [before_day],
        ).df()
    finally:
        conn.unregister("_hist_customers")


def write_plan(
    conn, campaign_id: str, day: dt.date, rows: pd.DataFrame, links: pd.DataFrame
) -> dict[str, int]:
    """Replace the not-yet-sent part of (campaign, day)'s plan in one transaction.

    Rows already sending or final are kept as they are, and their customers are
    not planned again: a re-run of a plan never produces a second message.
    """
    conn.execute("BEGIN TRANSACTION")
    try:
        locked = {
            r[0]
            for r in conn.execute(
                f"SELECT customer_id FROM sms.ledger WHERE campaign_id = ? AND plan_day = ? "
                f"AND state IN {LOCKED}",
                [campaign_id, day],
            ).fetchall()
        }
        conn.execute(
            "DELETE FROM sms.ledger WHERE campaign_id = ? AND plan_day = ? "
            f"AND state NOT IN {LOCKED}",
            [campaign_id, day],
        )
        fresh = rows[~rows["customer_id"].isin(locked)][COLUMNS]
        conn.register("_plan_rows", fresh)
        conn.execute(f"INSERT INTO sms.ledger ({', '.join(COLUMNS)}) SELECT * FROM _plan_rows")
        conn.unregister("_plan_rows")
        if len(links):
            conn.register("_plan_links", links[links["message_key"].isin(fresh["message_key"])])
            conn.execute(
                "INSERT INTO sms.links SELECT token, message_key, target_url, now() "
                "FROM _plan_links ON CONFLICT (token) DO NOTHING"
            )
            conn.unregister("_plan_links")
        conn.execute("COMMIT")
    except Exception:
        conn.execute("ROLLBACK")
        raise
    return {"written": len(fresh), "kept_locked": len(locked)}


def give_way(conn, keys: Sequence[str], winner: str) -> int:
    """Messages not yet sent that a higher-priority one displaced (the caps): skipped, with
    the winner named, and holdout rows that gave way like their treated twins would (so
    both arms of the lower campaign lose the same kind of customer). Rows already handed
    to a gateway are left as they are."""
    if not keys:
        return 0
    conn.register("_give_way", pd.DataFrame({"message_key": list(keys)}))
    try:
        return conn.execute(
            "UPDATE sms.ledger SET state = 'skipped', step = 'frequency_caps', "
            "reason = 'displaced by higher-priority ' || ? "
            f"FROM _give_way AS g WHERE sms.ledger.message_key = g.message_key "
            f"AND sms.ledger.state IN {(*SENDABLE, 'held_out')}",
            [winner],
        ).fetchall()[0][0]
    finally:
        conn.unregister("_give_way")


def links_for(conn, keys: Sequence[str]) -> list[tuple[str, str, str]]:
    """(token, message_key, target_url) of the tracked links in these messages."""
    conn.register("_link_keys", pd.DataFrame({"message_key": list(keys)}))
    try:
        return conn.execute(
            "SELECT l.token, l.message_key, l.target_url FROM sms.links AS l "
            "JOIN _link_keys USING (message_key) ORDER BY l.token"
        ).fetchall()
    finally:
        conn.unregister("_link_keys")


def mark_sending(
    conn,
    keys: Sequence[str],
    now: dt.datetime,
    run_id: str | None,
    expires_at: dict[str, dt.datetime] | None = None,
) -> None:
    """Committed before the batch leaves: a crash after this leaves the fate unknown.

    ``expires_at`` (per key, UTC) is when the recipient's window closes: the validity
    the provider is given, kept as evidence that the message could not arrive later.
    """
    expires = expires_at or {}
    frame = pd.DataFrame(
        {
            "message_key": list(keys),
            "expires_at": [expires[k].replace(tzinfo=None) if k in expires else None for k in keys],
        }
    )
    frame["expires_at"] = pd.to_datetime(frame["expires_at"])
    conn.register("_keys", frame)
    conn.execute(
        "UPDATE sms.ledger SET state = 'sending', sending_at = ?, run_id = ?, "
        "expires_at = _keys.expires_at, attempts = attempts + 1 "
        "FROM _keys WHERE sms.ledger.message_key = _keys.message_key",
        [now.replace(tzinfo=None), run_id],
    )
    conn.unregister("_keys")


def record_results(conn, results: pd.DataFrame, now: dt.datetime) -> None:
    """Final states in bulk: columns key, state, provider_message_id, error_code, error, outcome."""
    conn.register("_results", results)
    conn.execute(
        """
        UPDATE sms.ledger SET
            state = r.state,
            final_at = ?,
            provider_message_id = r.provider_message_id,
            error_code = r.error_code,
            error = r.error,
            outcome = r.outcome
        FROM _results AS r
        WHERE sms.ledger.message_key = r.key
        """,
        [now.replace(tzinfo=None)],
    )
    conn.unregister("_results")


def set_state(conn, keys: Sequence[str], state: str, reason: str, step: str | None = None) -> None:
    if not keys:
        return
    conn.register("_keys", pd.DataFrame({"message_key": list(keys)}))
    conn.execute(
        "UPDATE sms.ledger SET state = ?, reason = ?, step = coalesce(?, step) "
        "FROM _keys WHERE sms.ledger.message_key = _keys.message_key",
        [state, reason, step],
    )
    conn.unregister("_keys")


# Receipts that mean "never delivered because its validity ran out": Twilio's 30036
# (Validity Period Expired) and 30001 (queued past its limit), the sandbox's 30036, and an
# SMSC's ``stat:EXPIRED`` in Kannel's report (SMPP message state EXPIRED).
EXPIRED_SQL = (
    "(error_code IN ('30036', '30001') OR upper(error_code) LIKE '%STAT:EXPIRED%'"
    " OR upper(provider_status) = 'EXPIRED')"
)


def record_expiries(conn, store=None) -> int:
    """Mark accepted messages that expired at the provider (read from the loaded receipts
    in the warehouse, ``conn``; the ledger is in ``store``, the warehouse by default).

    The outcome says so on the ledger (``expired``), beside the provider's code: the
    window held, the message was dropped rather than delivered late.
    """
    store = conn if store is None else store
    found = conn.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'raw' AND table_name = 'sms_events'"
    ).fetchall()[0][0]
    if not found or not _exists(store):
        return 0
    expired = conn.execute(
        f"""
        SELECT message_key, min(error_code) AS error_code
        FROM raw.sms_events
        WHERE event_type = 'status' AND message_key IS NOT NULL AND {EXPIRED_SQL}
        GROUP BY 1
        """
    ).df()
    if expired.empty:
        return 0
    store.register("_expired", expired)
    try:
        return store.execute(
            """
            UPDATE sms.ledger SET
                outcome = 'expired',
                error_code = e.error_code,
                error = 'expired at the provider: the window closed before it could be delivered'
            FROM _expired AS e
            WHERE sms.ledger.message_key = e.message_key
              AND sms.ledger.state = 'accepted'
              AND sms.ledger.outcome IS DISTINCT FROM 'expired'
            """
        ).fetchall()[0][0]
    finally:
        store.unregister("_expired")


def reschedule(conn, rows: pd.DataFrame) -> None:
    """Deferred rows whose window is closed at dispatch time: columns message_key, scheduled_at."""
    if rows.empty:
        return
    if "window_ends_at" not in rows:
        rows = rows.assign(window_ends_at=pd.NaT)
    conn.register("_resched", rows)
    conn.execute(
        "UPDATE sms.ledger SET state = 'deferred', scheduled_at = r.scheduled_at, "
        "window_ends_at = r.window_ends_at "
        "FROM _resched AS r WHERE sms.ledger.message_key = r.message_key"
    )
    conn.unregister("_resched")


RESULT_COLUMNS = ["key", "state", "provider_message_id", "error_code", "error", "outcome"]


def results_frame(results, keys) -> pd.DataFrame:
    """The gateway's answers (``SendResult``s) as ``record_results`` takes them; every key
    must have one."""
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
        columns=RESULT_COLUMNS,
    )
    missing = set(keys) - set(frame["key"])
    if missing:  # the gateway contract is one result per message; never leave "sending"
        raise RuntimeError(f"gateway returned no result for {len(missing)} message(s)")
    return frame
