"""Ledger rows made up for the operational store's tests and benchmarks: ``n`` planned
marketing messages of one campaign, approved for a dispatch run (as its re-check leaves
them), with distinct valid phone numbers and keys."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dagster_project.activation import ledger
from dagster_project.opstore import claims


def planned_rows(
    n: int,
    *,
    campaign: str = "bench",
    day: dt.date = dt.date(2026, 12, 7),
    sender: str = "+15550001111",
) -> pd.DataFrame:
    now = dt.datetime.combine(day, dt.time(9, 0))
    rows = pd.DataFrame(
        {
            "message_key": [ledger.message_key(campaign, f"C{i:07d}", day, "A") for i in range(n)],
            "campaign_id": campaign,
            "plan_day": day,
            "customer_id": [f"C{i:07d}" for i in range(n)],
            "variant": "A",
            "kind": "marketing",
            "state": "planned",
            "step": "planned",
            "reason": None,
            "phone_e164": [f"+1202555{i % 10_000:04d}" for i in range(n)],
            "time_zone": "America/New_York",
            "country": "US",
            "sender": sender,
            "language": "en",
            "body": [f"Hello C{i:07d}, 10% off this week. Reply STOP to opt out" for i in range(n)],
            "encoding": "GSM-7",
            "segments": 1,
            "cost_usd": 0.0079,
            "opt_in_event_id": [f"e{i}" for i in range(n)],
            "opt_in_source": "pos",
            "opt_in_text_version": "v1",
            "candidate_zones": "America/New_York",
            "zone_source": "profile",
            "send_regions": "US,US-NY",
            "scheduled_at": now,
            "window_ends_at": now + dt.timedelta(hours=11),
            "planned_at": now,
            "run_id": "plan",
            "journey_entry": None,
            "journey_step": None,
        }
    )
    return rows[ledger.COLUMNS]


def approve_all(conn, run_id: str, rows: pd.DataFrame, expires_at: dt.datetime) -> int:
    """Write ``rows`` as the plan and approve them all for ``run_id`` (window end ``expires_at``, naive UTC)."""
    ledger.ensure(conn)
    for (campaign, day), part in rows.groupby(["campaign_id", "plan_day"]):
        ledger.write_plan(
            conn, campaign, day, part, pd.DataFrame(columns=["token", "message_key", "target_url"])
        )
    return claims.approve(
        conn, run_id, pd.DataFrame({"message_key": rows["message_key"], "expires_at": expires_at})
    )
