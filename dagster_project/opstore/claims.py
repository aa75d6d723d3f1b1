"""Dispatch workers claiming messages from the PostgreSQL store, with leases.

The dispatch run re-checks every due message once and approves the ones to send
(``dispatch_run`` = its run id). Workers then take them in small batches:

* ``claim`` locks approved rows nobody holds (``FOR UPDATE SKIP LOCKED``: workers never
  wait for each other, never take the same row) and in the same committed statement
  marks them ``sending`` with the worker's name and a lease. A message is therefore
  ``sending`` in the store before any worker can hand it to a gateway.
* A live worker renews its lease (``renew``) while its batch is out.
* A worker that dies leaves its rows ``sending`` until the lease expires. Their fate is
  unknown: a gateway that honours the idempotency key gets them again (``claim`` takes
  expired leases when told ``idempotent``); otherwise ``settle_expired`` marks them
  ``unknown`` and they are never resent.
"""

from __future__ import annotations

import pandas as pd

from dagster_project.activation import ledger

# Rows a worker found past their window, handed back to the run (``leave_for_the_run``).
WINDOW_CLOSED_MARK = "window_closed_in_queue"

# The claimable rows of a run, in claim order: the partial index ``ledger_claim``
# (``schema``) serves this without sorting the run's remaining rows for every batch.
_CLAIM = """
UPDATE sms.ledger AS l SET
    state = 'sending',
    lease_owner = ?,
    lease_until = now() AT TIME ZONE 'UTC' + make_interval(secs => ?),
    sending_at = now() AT TIME ZONE 'UTC',
    run_id = l.dispatch_run,
    attempts = l.attempts + 1
FROM (
    SELECT message_key FROM sms.ledger
    WHERE dispatch_run = ? AND {which}
    ORDER BY scheduled_at, message_key
    LIMIT ?
    FOR UPDATE SKIP LOCKED
) AS c
WHERE l.message_key = c.message_key
RETURNING l.message_key, l.campaign_id, l.customer_id, l.kind, l.phone_e164, l.sender,
          l.body, l.expires_at, l.attempts
"""
CLAIM_SQL = _CLAIM.format(which="state IN ('planned', 'deferred')")
# A dead worker's messages, for a gateway that honours the idempotency key only.
CLAIM_LAPSED_SQL = _CLAIM.format(
    which="state = 'sending' AND lease_until < now() AT TIME ZONE 'UTC'"
)


def claim(conn, run_id: str, owner: str, limit: int, lease_s: float, idempotent: bool):
    """Up to ``limit`` approved messages, now ``sending`` under ``owner``'s lease: a dead
    worker's first (when ``idempotent``), then the run's in order."""
    frames = []
    if idempotent:
        frames.append(conn.execute(CLAIM_LAPSED_SQL, [owner, lease_s, run_id, limit]).df())
    taken = sum(len(f) for f in frames)
    if taken < limit:
        frames.append(conn.execute(CLAIM_SQL, [owner, lease_s, run_id, limit - taken]).df())
    frame = pd.concat([f for f in frames if len(f)] or frames[-1:], ignore_index=True)
    return frame.sort_values("message_key", kind="stable").reset_index(drop=True)


def renew(conn, owner: str, lease_s: float) -> int:
    return conn.execute(
        "UPDATE sms.ledger SET lease_until = now() AT TIME ZONE 'UTC' + make_interval(secs => ?) "
        "WHERE lease_owner = ? AND state = 'sending'",
        [lease_s, owner],
    ).fetchall()[0][0]


def settle_expired(conn, run_id: str) -> int:
    """The run's ``sending`` rows whose worker's lease ran out: fate unknown, never resent
    (for a gateway without an idempotency key)."""
    return conn.execute(
        "UPDATE sms.ledger SET state = 'unknown', final_at = now() AT TIME ZONE 'UTC', "
        "reason = 'fate unknown: its dispatch worker stopped mid-send; not resent "
        "(the gateway has no idempotency key)' "
        "WHERE dispatch_run = ? AND state = 'sending' AND lease_until < now() AT TIME ZONE 'UTC'",
        [run_id],
    ).fetchall()[0][0]


def approve(conn, run_id: str, approved: pd.DataFrame) -> int:
    """Let the workers send these (columns message_key, expires_at: the window's end)."""
    if approved.empty:
        return 0
    conn.register("_approved", approved[["message_key", "expires_at"]])
    try:
        return conn.execute(
            "UPDATE sms.ledger SET dispatch_run = ?, expires_at = a.expires_at "
            "FROM _approved AS a WHERE sms.ledger.message_key = a.message_key "
            f"AND sms.ledger.state IN {(*ledger.SENDABLE, 'sending')}",
            [run_id],
        ).fetchall()[0][0]
    finally:
        conn.unregister("_approved")


def outstanding(conn, run_id: str) -> dict[str, int]:
    """The run's messages not final yet, by state: what is left to claim or settle."""
    rows = conn.execute(
        "SELECT CASE WHEN state = 'sending' AND lease_until >= now() AT TIME ZONE 'UTC' "
        "THEN 'held' WHEN state = 'sending' THEN 'expired' ELSE 'claimable' END, count(*) "
        "FROM sms.ledger WHERE dispatch_run = ? "
        f"AND state IN {(*ledger.SENDABLE, 'sending')} GROUP BY 1",
        [run_id],
    ).fetchall()
    return dict(rows)


def leave_for_the_run(conn, keys) -> None:
    """Messages a worker found past their window (the sender refused them, nothing left):
    handed back to the dispatch run, which defers them to their next opening or skips
    them; no worker claims them again."""
    if not len(keys):
        return
    conn.register("_closed", pd.DataFrame({"message_key": list(keys)}))
    try:
        conn.execute(
            "UPDATE sms.ledger SET state = 'deferred', dispatch_run = NULL, lease_owner = NULL, "
            "error_code = ? FROM _closed AS c WHERE sms.ledger.message_key = c.message_key",
            [WINDOW_CLOSED_MARK],
        )
    finally:
        conn.unregister("_closed")


def take_window_closed(conn, run_id: str) -> list[str]:
    """The run's messages its workers handed back as past their window (mark cleared)."""
    rows = conn.execute(
        "UPDATE sms.ledger SET error_code = NULL WHERE run_id = ? AND state = 'deferred' "
        "AND error_code = ? RETURNING message_key",
        [run_id, WINDOW_CLOSED_MARK],
    ).fetchall()
    return sorted(r[0] for r in rows)


def run_states(conn, run_id: str) -> tuple[dict[str, int], dict[str, int]]:
    """The run's final states and outcomes, counted in the store."""
    states = dict(
        conn.execute(
            f"SELECT state, count(*) FROM sms.ledger WHERE run_id = ? AND state IN {ledger.FINAL} "
            "GROUP BY 1",
            [run_id],
        ).fetchall()
    )
    outcomes = dict(
        conn.execute(
            "SELECT outcome, count(*) FROM sms.ledger WHERE run_id = ? "
            f"AND state IN {ledger.FINAL} AND outcome IS NOT NULL GROUP BY 1",
            [run_id],
        ).fetchall()
    )
    return states, outcomes
