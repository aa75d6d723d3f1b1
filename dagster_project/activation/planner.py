"""A campaign's plan for a day: candidates from the marts, rules, rendering, ledger rows.

``build_plan`` reads the candidates of one campaign (customers in its target
segments, with their phone, whether it may receive now, the opt-in evidence, time
zone and the attributes its filters test), runs ``eligibility.decide`` on each in order,
renders the message of everyone who will be sent (or would have been, for the
holdout), and returns the ledger rows and link tokens. ``write`` stores them;
``preview`` uses the same function and writes nothing.

Whether a phone may receive now comes from ``marts.dim_sms_reachability``, the one
definition of that rule (a dbt view computed when read over consent and
suppression): an opt-out loaded after the marts were built is honoured by the next
plan and by the dispatch. A phone the view does not know is no valid mobile.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections import defaultdict
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from dagster_project import settings
from dagster_project.activation import eligibility, ledger
from dagster_project.activation.campaigns import FILTER_FIELDS, Campaign, Policy
from dagster_project.activation.whereabouts import Whereabouts

# Per-deployment secret for tracked-link tokens (tokens must not be guessable).
LINK_SECRET_ENV = "SMS_LINK_SECRET"

_CANDIDATES = """
WITH targeted AS ({targeted}),
segs AS (
    SELECT s.customer_id, list(DISTINCT s.segment) AS segments
    FROM marts.dim_customer_segments AS s JOIN targeted USING (customer_id)
    GROUP BY 1
),
entered AS (
    SELECT h.customer_id, max(h.entered_on) AS entered_on
    FROM marts.fct_customer_segment_history AS h JOIN targeted USING (customer_id)
    WHERE list_contains($segments, h.segment) AND h.left_on IS NULL
    GROUP BY 1
),
customers AS (
    SELECT d.*, coalesce(d.sms_opted_in_phone_e164, d.phone_e164) AS send_phone
    FROM marts.dim_customers AS d JOIN targeted USING (customer_id)
),
bought AS (
    SELECT l.customer_id, max(l.ordered_on) AS bought_on
    FROM marts.fct_order_lines AS l JOIN targeted USING (customer_id)
    WHERE l.category = $category AND NOT l.is_cancelled
    GROUP BY 1
)
SELECT
    c.customer_id,
    coalesce(segs.segments, []::VARCHAR[]) AS segments,
    c.send_phone AS phone_e164,
    r.phone_type,
    coalesce(r.consent_state, 'none') AS consent_state,
    r.opt_in_event_id,
    r.opt_in_source,
    r.opt_in_text_version,
    r.suppression_reasons AS suppression,
    coalesce(r.may_receive_marketing, false) AS may_receive_marketing,
    coalesce(r.marketing_blocked_step, 'valid_mobile') AS marketing_blocked_step,
    coalesce(r.marketing_blocked_reason, 'no valid mobile number') AS marketing_blocked_reason,
    coalesce(r.may_receive_transactional, false) AS may_receive_transactional,
    coalesce(r.transactional_blocked_step, 'valid_mobile') AS transactional_blocked_step,
    coalesce(r.transactional_blocked_reason, 'no valid mobile number')
        AS transactional_blocked_reason,
    c.time_zone,
    c.crm_country,
    c.crm_state_region,
    c.crm_time_zone,
    c.home_store_country,
    c.home_store_time_zone,
    c.first_name,
    c.age_band,
    entered.entered_on,
    bought.bought_on AS bought_promoted_on,
    {attributes}
FROM customers AS c
LEFT JOIN segs USING (customer_id)
LEFT JOIN entered USING (customer_id)
LEFT JOIN marts.dim_sms_reachability AS r ON r.phone_e164 = c.send_phone
LEFT JOIN bought USING (customer_id)
ORDER BY c.customer_id
""".replace(
    "{attributes}",
    # numbers as DOUBLE: a filter's YAML number compares with a float, never a Decimal
    ", ".join(
        f"cast(c.{f} AS DOUBLE) AS {f}" if kind == "number" else f"c.{f}"
        for f, kind in FILTER_FIELDS.items()
    ),
)
# A campaign's candidates: the customers in its target segments.
CANDIDATES_SQL = _CANDIDATES.replace(
    "{targeted}",
    "SELECT DISTINCT customer_id FROM marts.dim_customer_segments "
    "WHERE list_contains($segments, segment)",
)
# Named customers (a journey's entries), with the same facts a campaign's candidates have.
CUSTOMERS_SQL = _CANDIDATES.replace("{targeted}", "SELECT DISTINCT customer_id FROM _wanted")


def fetch_records(cursor: duckdb.DuckDBPyConnection) -> list[dict]:
    """A query's rows as dicts of Python values (None for NULL), straight from DuckDB: for
    the per-candidate loops, which would otherwise pay for a DataFrame and its to_dict."""
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def candidates(conn: duckdb.DuckDBPyConnection, campaign: Campaign) -> list[dict]:
    """A campaign's candidate rows, in customer order."""
    return fetch_records(
        conn.execute(
            CANDIDATES_SQL,
            {"segments": campaign.segments, "category": campaign.promoted_category or ""},
        )
    )


def candidates_for(conn: duckdb.DuckDBPyConnection, customer_ids) -> list[dict]:
    """The candidate rows of these customers (segments, phone, verdicts, zones, attributes)."""
    conn.register("_wanted", pd.DataFrame({"customer_id": list(customer_ids)}, dtype=object))
    try:
        return fetch_records(conn.execute(CUSTOMERS_SQL, {"segments": ["-"], "category": ""}))
    finally:
        conn.unregister("_wanted")


def _none(value):
    return (
        None
        if value is None or (isinstance(value, float) and value != value) or value is pd.NaT
        else value
    )


def verdict(row: dict, kind: str) -> eligibility.Verdict:
    """The view's verdict on the candidate's phone for one kind of message."""
    if row[f"may_receive_{kind}"]:
        return eligibility.MAY_RECEIVE
    return eligibility.Verdict(False, row[f"{kind}_blocked_step"], row[f"{kind}_blocked_reason"])


def to_candidate(row: dict) -> eligibility.Candidate:
    def day(v):
        v = _none(v)
        return v.date() if isinstance(v, (pd.Timestamp, dt.datetime)) else v

    return eligibility.Candidate(
        customer_id=row["customer_id"],
        segments=frozenset(row["segments"]),
        phone_e164=_none(row["phone_e164"]),
        phone_type=_none(row["phone_type"]),
        consent_state=row["consent_state"],
        opt_in_event_id=_none(row["opt_in_event_id"]),
        opt_in_source=_none(row["opt_in_source"]),
        opt_in_text_version=_none(row["opt_in_text_version"]),
        suppression=_none(row["suppression"]),
        marketing=verdict(row, "marketing"),
        transactional=verdict(row, "transactional"),
        time_zone=_none(row["time_zone"]),
        country=_none(row["country"]),
        stated=tuple(
            _none(row[f])
            for f in (
                "crm_time_zone",
                "crm_country",
                "crm_state_region",
                "home_store_time_zone",
                "home_store_country",
            )
        ),  # fmt: skip
        attributes={f: _none(row[f]) for f in FILTER_FIELDS},
        entered_on=day(row["entered_on"]),
        bought_promoted_on=day(row["bought_promoted_on"]),
    )


@dataclass
class Plan:
    campaign: Campaign
    day: dt.date
    decisions: list[eligibility.Decision]
    rows: pd.DataFrame
    links: pd.DataFrame
    over_budget: int = 0
    already_sent: int = 0  # customers whose message of this day was already sent (kept)
    notes: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for d in self.decisions:
            out[d.state] += 1
        return dict(out)


def build_plan(
    conn,
    campaign: Campaign,
    day: dt.date,
    now: dt.datetime,
    policy: Policy,
    renderer_factory,
    prices,
    run_id: str | None = None,
    store=None,
) -> Plan:
    """Decide, render and cost one campaign's plan for ``day`` at ``now`` (writes nothing).
    Candidates come from the warehouse (``conn``), what was already sent from the
    operational ``store`` (the warehouse itself by default)."""
    store = conn if store is None else store
    rows_in = candidates(conn, campaign) if campaign.is_active(day) else []
    # A re-plan leaves messages already sending or sent alone (the ledger keeps them):
    # those customers are not candidates again.
    locked = ledger.locked_customers(store, campaign.id, day)
    records = [r for r in rows_in if r["customer_id"] not in locked]
    past = ledger.history(store, [r["customer_id"] for r in records], day) if records else None
    sent: dict[str, list[eligibility.Sent]] = defaultdict(list)
    if past is not None:
        for r in past.itertuples():
            if r.campaign_id == campaign.id and pd.Timestamp(r.plan_day).date() == day:
                continue  # this plan's own earlier version is being replaced
            sent[r.customer_id].append(
                eligibility.Sent(
                    r.campaign_id, r.scheduled_at.to_pydatetime().replace(tzinfo=dt.UTC)
                )
            )
    renderers = {v.id: renderer_factory(campaign, v.id) for v in campaign.variants}
    decisions, rows, links = [], [], []
    spent = 0.0
    over_budget = 0
    planned_at = now.replace(tzinfo=None)
    for record in records:
        c = to_candidate(record)
        d = eligibility.decide(c, campaign, now, policy, sent[c.customer_id])
        key = ledger.message_key(campaign.id, c.customer_id, day, d.variant)
        rendered = None
        if d.state in ("planned", "deferred", "held_out"):
            rendered = render(renderers[d.variant], record, c, key, prices)
            if d.state != "held_out":
                if campaign.budget_usd is not None and spent + rendered.cost > campaign.budget_usd:
                    d = eligibility.Decision(
                        c.customer_id, "skipped", "frequency_caps", "campaign budget exhausted"
                    )
                    over_budget += 1
                else:
                    spent += rendered.cost
                    links += rendered.links(key)
        decisions.append(d)
        rows.append(
            ledger_row(
                key, campaign.id, day, c, d, campaign.kind, campaign.sender_for(c.country),
                rendered, planned_at, run_id,
            )
        )  # fmt: skip
    columns = ledger.COLUMNS
    return Plan(
        campaign=campaign,
        day=day,
        decisions=decisions,
        rows=pd.DataFrame(rows, columns=columns),
        links=pd.DataFrame(links, columns=["token", "message_key", "target_url"]),
        over_budget=over_budget,
        already_sent=len(locked),
    )


@dataclass(frozen=True)
class Rendered:
    """One recipient's message as the ledger stores it, and its tracked links."""

    body: str
    encoding: str
    language: str
    segments: int
    cost: float
    tracked: tuple = ()

    def links(self, key: str) -> list[dict]:
        return [
            {"token": link.token, "message_key": key, "target_url": link.target_url}
            for link in self.tracked
        ]


def render(renderer, record: dict, c: eligibility.Candidate, key: str, prices, extra=None):
    """Render, measure and cost one message (``record``: the candidate's row)."""
    from dagster_project.activation import encoding as sms_encoding
    from dagster_project.activation.pricing import estimate_cost

    recipient = {
        "customer_id": c.customer_id,
        "first_name": _none(record["first_name"]),
        "language": _none(record["language"]),
        "country": c.country,
        "age_band": _none(record["age_band"]),
        "extra": extra or {},
    }
    msg = renderer.render(recipient, key)
    size = sms_encoding.measure(msg.text)
    return Rendered(
        msg.text, size.encoding, msg.language, size.segments,
        float(estimate_cost(size, c.country, prices)), tuple(msg.links),
    )  # fmt: skip


def ledger_row(
    key: str,
    program_id: str,
    day: dt.date,
    c: eligibility.Candidate,
    d: eligibility.Decision,
    kind: str,
    sender: str,
    rendered: Rendered | None,
    planned_at: dt.datetime,
    run_id: str | None,
    journey_entry: str | None = None,
    journey_step: str | None = None,
) -> dict:
    """The ledger row of one decision: its state and reason, the message where one may go
    out (or would have, in the holdout), the consent evidence and the zones honoured."""
    sendable = rendered is not None and d.state in ("planned", "deferred", "held_out")
    return {
        "message_key": key,
        "campaign_id": program_id,
        "plan_day": day,
        "customer_id": c.customer_id,
        "variant": d.variant,
        "kind": kind,
        "state": d.state,
        "step": d.step,
        "reason": d.reason,
        "phone_e164": c.phone_e164,
        "time_zone": c.time_zone,
        "country": c.country,
        "sender": sender if sendable else None,
        "language": rendered.language if sendable else None,
        "body": rendered.body if sendable else None,
        "encoding": rendered.encoding if sendable else None,
        "segments": rendered.segments if sendable else None,
        "cost_usd": rendered.cost if sendable else None,
        "opt_in_event_id": c.opt_in_event_id,
        "opt_in_source": c.opt_in_source,
        "opt_in_text_version": c.opt_in_text_version,
        **whereabouts_columns(d.whereabouts),
        "scheduled_at": d.scheduled_at.replace(tzinfo=None) if d.scheduled_at else None,
        "window_ends_at": d.window_ends_at.replace(tzinfo=None) if d.window_ends_at else None,
        "planned_at": planned_at,
        "run_id": run_id,
        "journey_entry": journey_entry,
        "journey_step": journey_step,
    }


def whereabouts_columns(where: Whereabouts | None) -> dict[str, str | None]:
    """The zones and regions a send honoured, as the ledger stores them (an audit re-checks)."""
    if where is None:
        return {"candidate_zones": None, "zone_source": None, "send_regions": None}
    sep = ledger.LIST_SEPARATOR
    return {
        "candidate_zones": sep.join(where.zones) or None,
        "zone_source": where.zone_source,
        "send_regions": sep.join(where.regions) or None,
    }


def link_secret() -> str:
    """``SMS_LINK_SECRET``; unset, a random secret made once for this data folder.

    The fallback lets ``make demo`` run with no set-up while keeping tokens stable
    across reruns (they derive from it) and unguessable (nothing is written in code).
    """
    value = os.environ.get(LINK_SECRET_ENV)
    if value:
        return value
    path = settings.data_dir() / ".link_secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(32))
    return path.read_text().strip()


def default_renderer_factory(campaign: Campaign, variant: str):
    from dagster_project.activation.messages import MessageRenderer

    return MessageRenderer(
        templates=campaign.templates_for(variant),
        fallback_language=campaign.fallback_language,
        kind=campaign.kind,
        link_base_url=campaign.link_base_url,
        link_secret=link_secret(),
    )
