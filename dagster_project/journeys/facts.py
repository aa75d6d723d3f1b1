"""What the warehouse says for the journeys: entry triggers, events since entry, invoices.

Read-only SQL over the marts (``fct_customer_events``, ``fct_customer_segment_history``,
``fct_invoices``), returned as the plain values the engine takes. Times are UTC without a
zone in the marts and aware UTC here.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pandas as pd

from dagster_project.journeys.engine import Entry, Event
from dagster_project.journeys.spec import Journey

_EVENTS = "marts.fct_customer_events"
# Per trigger: (customer_id, entry_key, event_at, skus, invoice fields) of events in
# ($since, $now]. Times are UTC without a zone, as the marts keep them.
TRIGGER_SQL = {
    "checkout_abandoned": f"""
        SELECT customer_id, event_id AS entry_key, event_at, skus FROM {_EVENTS}
        WHERE event_type = 'checkout_abandoned' AND event_at > $since AND event_at <= $now""",
    "first_order": f"""
        SELECT customer_id, event_id AS entry_key, event_at, skus FROM {_EVENTS}
        WHERE event_type = 'order' AND is_first_order AND event_at > $since AND event_at <= $now""",
    "order": f"""
        SELECT customer_id, event_id AS entry_key, event_at, skus FROM {_EVENTS}
        WHERE event_type = 'order' AND ($category = '' OR list_contains(categories, $category))
          AND event_at > $since AND event_at <= $now""",
    "opt_in": f"""
        SELECT customer_id, event_id AS entry_key, event_at, NULL::VARCHAR[] AS skus FROM {_EVENTS}
        WHERE event_type = 'opt_in' AND event_at > $since AND event_at <= $now""",
    "reply_keyword": f"""
        SELECT customer_id, event_id AS entry_key, event_at, NULL::VARCHAR[] AS skus FROM {_EVENTS}
        WHERE event_type = 'reply' AND list_contains($keywords, upper(keyword))
          AND event_at > $since AND event_at <= $now""",
    "segment_entered": """
        SELECT customer_id, 'segment:' || segment || ':' || entered_on AS entry_key,
               entered_on::TIMESTAMP AS event_at, NULL::VARCHAR[] AS skus
        FROM marts.fct_customer_segment_history
        WHERE segment = $segment AND left_on IS NULL
          AND entered_on::TIMESTAMP > $since AND entered_on::TIMESTAMP <= $now""",
    "invoice_open": """
        SELECT customer_id, 'invoice:' || invoice_id AS entry_key,
               issued_on::TIMESTAMP AS event_at, NULL::VARCHAR[] AS skus,
               invoice_id, open_amount AS amount, currency, due_on
        FROM marts.fct_invoices
        WHERE is_open AND customer_id IS NOT NULL
          AND issued_on::TIMESTAMP > $since AND issued_on::TIMESTAMP <= $now""",
}


def naive(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def aware(value) -> dt.datetime:
    return pd.Timestamp(value).to_pydatetime().replace(tzinfo=dt.UTC)


def triggered(conn, journey: Journey, now: dt.datetime) -> pd.DataFrame:
    t = journey.entry
    params = {
        "since": naive(now - dt.timedelta(hours=t.within_hours)),
        "now": naive(now),
    }
    if t.event == "order":
        params["category"] = t.category or ""
    if t.event == "reply_keyword":
        params["keywords"] = list(t.keywords or [])
    if t.event == "segment_entered":
        params["segment"] = t.segment
    return conn.execute(TRIGGER_SQL[t.event], params).df().sort_values(["event_at", "entry_key"])


def events_of(conn, customer_ids, since: dt.datetime) -> dict[str, list[Event]]:
    conn.register(
        "_journey_customers", pd.DataFrame({"customer_id": list(customer_ids)}, dtype=object)
    )
    try:
        frame = conn.execute(
            f"SELECT customer_id, event_type, event_at, skus FROM {_EVENTS} "
            "JOIN _journey_customers USING (customer_id) WHERE event_at > ?",
            [naive(since)],
        ).df()
    finally:
        conn.unregister("_journey_customers")
    out: dict[str, list[Event]] = defaultdict(list)
    for r in frame.itertuples():
        skus = strings(r.skus)
        out[r.customer_id].append(Event(r.event_type, aware(r.event_at), frozenset(skus)))
    return out


def settled_invoices(conn, entries: list[Entry]) -> set[str]:
    ids = [str(e.anchor.get("invoice_id")) for e in entries if e.anchor.get("invoice_id")]
    if not ids:
        return set()
    rows = conn.execute(
        "SELECT invoice_id::VARCHAR FROM marts.fct_invoices "
        "WHERE NOT is_open AND list_contains(?, invoice_id::VARCHAR)",
        [ids],
    ).fetchall()
    return {r[0] for r in rows}


def strings(value) -> list[str]:
    """A list column's value (a numpy array, a list, or NULL) as a list of strings."""
    if value is None or isinstance(value, float) or value is pd.NA:
        return []
    return [str(v) for v in value]
