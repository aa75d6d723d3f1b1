"""The gated datasets: for each suite, the bounded batch it validates, fetched from DuckDB.

A dataset is one SQL query over the warehouse that returns only the rows and
columns its suite needs: the delivery days just loaded for a raw table, one
row per source for the daily volume band, the customer keys of a mart. Derived
columns (days between an event and its delivery, the volume ratio) are computed
here so the suite's thresholds stay in the suite file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import duckdb
import pandas as pd

from dagster_project.quality import daily


@dataclass(frozen=True)
class Dataset:
    """A suite's batch: which table, which rows and columns, which of them are phones."""

    suite: str  # expectations/<suite>.json
    asset: tuple[str, ...]  # the asset key path the check is attached to
    description: str  # why the check matters: the check's description in the UI
    query: Callable[[date | None, date | None], tuple[str, list]]
    partitioned: bool = False
    phone_columns: tuple[str, ...] = ()
    example_columns: tuple[str, ...] = ()
    # The newest day there is to check, for a partitioned check run on its own.
    latest_sql: str | None = None

    def latest_day(self, conn: duckdb.DuckDBPyConnection) -> date | None:
        sql = self.latest_sql or f"SELECT max(_partition_date) FROM raw.{self.asset[1]}"
        return conn.execute(sql).fetchall()[0][0]


def fetch(conn: duckdb.DuckDBPyConnection, dataset: Dataset, start=None, end=None) -> pd.DataFrame:
    sql, params = dataset.query(start, end)
    return conn.execute(sql, params).df()


def _range(table: str, columns: str, phones: tuple[str, ...] = ()) -> Callable:
    # batch_rows and <phone>_rows let a suite judge a small batch (a quiet day of a
    # small shop) on gross breakage only: one re-sent line in 17 is 12%.
    sizes = ", ".join(
        ["count(*) OVER () AS batch_rows", *(f"count({p}) OVER () AS {p}_rows" for p in phones)]
    )

    def query(start, end):
        return (
            f"SELECT {columns}, {sizes} FROM raw.{table} WHERE _partition_date BETWEEN ? AND ?",
            [start, end],
        )

    return query


def _days_after_delivery(column: str) -> str:
    # An event dated after the day its file was delivered cannot have happened yet.
    return f"date_diff('day', _partition_date, CAST({column} AS DATE)) AS days_after_delivery"


_PROVENANCE = "_partition_date, _source_file, _source_line"
# The UTC calendar day of the event, as the loader's quarantine reads it.
_CONSENT_DAYS_AFTER_DELIVERY = _days_after_delivery("timezone('UTC', occurred_at)")

RAW_DATASETS: list[Dataset] = [
    Dataset(
        suite="raw_pos_transactions",
        asset=("raw", "pos_transactions"),
        description=(
            "Gate on the POS lines just loaded: keys present and unique, payments positive "
            "and refunds negative, phones mostly valid. (Lines dated after their delivery are "
            "quarantined at load; raw_quarantine judges how many.)"
        ),
        partitioned=True,
        query=_range(
            "pos_transactions",
            "transaction_id, sku, event_type, quantity, CAST(net_sales AS DOUBLE) AS net_sales, "
            f"currency, customer_phone, customer_phone_is_valid, {_PROVENANCE}",
            ("customer_phone",),
        ),
        phone_columns=("customer_phone",),
        example_columns=(
            "_source_file",
            "_source_line",
            "transaction_id",
            "event_type",
            "net_sales",
            "customer_phone",
        ),
    ),
    Dataset(
        suite="raw_shop_orders",
        asset=("raw", "shop_orders"),
        description=(
            "Gate on the shop orders just loaded: ids present and unique per delivery, totals "
            "within bounds, known financial statuses, phones mostly valid."
        ),
        partitioned=True,
        query=_range(
            "shop_orders",
            "id, CAST(total_price AS DOUBLE) AS total_price, financial_status, currency, "
            f"phone, phone_is_valid, customer_phone, customer_phone_is_valid, {_PROVENANCE}",
            ("phone", "customer_phone"),
        ),
        phone_columns=("phone", "customer_phone"),
        example_columns=(
            "_source_file",
            "_source_line",
            "id",
            "total_price",
            "financial_status",
            "phone",
        ),
    ),
    Dataset(
        suite="raw_shop_checkouts",
        asset=("raw", "shop_checkouts"),
        description=(
            "Gate on the checkouts just loaded (the abandoned-cart segment): ids present, "
            "totals within bounds, phones mostly valid."
        ),
        partitioned=True,
        query=_range(
            "shop_checkouts",
            f"id, CAST(total_price AS DOUBLE) AS total_price, phone, phone_is_valid, {_PROVENANCE}",
            ("phone",),
        ),
        phone_columns=("phone",),
        example_columns=("_source_file", "_source_line", "id", "total_price", "phone"),
    ),
    Dataset(
        suite="raw_crm_contacts",
        asset=("raw", "crm_contacts"),
        description=(
            "Gate on the CRM contacts just loaded: record ids present and unique per delivery, "
            "phones mostly valid."
        ),
        partitioned=True,
        query=_range(
            "crm_contacts",
            f"record_id, phone, phone_is_valid, {_PROVENANCE}",
            ("phone",),
        ),
        phone_columns=("phone",),
        example_columns=(
            "_source_file",
            "_source_line",
            "record_id",
            "phone",
        ),
    ),
    Dataset(
        suite="raw_crm_consent",
        asset=("raw", "crm_consent"),
        description=(
            "Gate on the consent events just loaded: every event has an id, a phone, a known "
            "type and a known source; an opt-in carries its text version; few from the future "
            "(future-dated opt-ins are quarantined at load, a future-dated opt-out is kept and "
            "counts from its delivery day)."
        ),
        partitioned=True,
        query=_range(
            "crm_consent",
            "event_id, event_type, source, phone, phone_is_valid, consent_text_version, "
            f"{_CONSENT_DAYS_AFTER_DELIVERY}, {_PROVENANCE}",
            ("phone",),
        ),
        phone_columns=("phone",),
        example_columns=(
            "_source_file",
            "_source_line",
            "event_id",
            "event_type",
            "source",
            "phone",
        ),
    ),
    Dataset(
        suite="raw_crm_tickets",
        asset=("raw", "crm_tickets"),
        description=(
            "Gate on the support tickets just loaded (the open-ticket exclusion): ids present "
            "and unique per delivery, known statuses."
        ),
        partitioned=True,
        query=_range(
            "crm_tickets",
            f"ticket_id, status, priority, {_PROVENANCE}",
        ),
        example_columns=("_source_file", "_source_line", "ticket_id", "status"),
    ),
    Dataset(
        suite="raw_pos_invoices",
        asset=("raw", "pos_invoices"),
        description=(
            "Gate on the customer invoices just loaded (what payment reminders are sent "
            "from): invoice numbers present and unique per state and delivery, known "
            "statuses; a balance beyond the invoice total is a signal."
        ),
        partitioned=True,
        query=_range(
            "pos_invoices",
            "invoice_id, status, CAST(balance AS DOUBLE) / nullif(CAST(amount AS DOUBLE), 0) "
            f"AS balance_over_amount, {_PROVENANCE}",
        ),
        example_columns=("_source_file", "_source_line", "invoice_id", "status"),
    ),
]

DAILY_TABLES = [d.asset[1] for d in RAW_DATASETS]
# Sources without a daily volume band. Invoices on account are a few a day, and none on
# many days (a few percent of customers, issued in bursts): a weekday median of two or
# three rows makes every quiet day look like a failed export. Their quarantine share is
# still gated with the others.
LOW_VOLUME_TABLES = ("pos_invoices",)
VOLUME_TABLES = [t for t in DAILY_TABLES if t not in LOW_VOLUME_TABLES]

QUARANTINE_DATASETS: list[Dataset] = [
    Dataset(
        suite="raw_quarantine",
        asset=("raw", t),
        description=(
            f"Gate on the share of raw.{t}'s rows quarantined at load (wrong types, malformed "
            "lines, empty required values, events dated after their delivery, unreadable "
            "files): a few bad rows go to ingest.rejects and the day loads; a systemic share "
            "means the export is broken and stops what is built on it."
        ),
        partitioned=True,
        query=daily.quarantine_query(t),
        example_columns=(
            "day",
            "rows_loaded",
            "rows_quarantined",
            "quarantined_share",
            "first_fault",
            "_source_file",
            "_source_line",
        ),
    )
    for t in DAILY_TABLES
]

VOLUME_DATASETS: list[Dataset] = [
    Dataset(
        suite="raw_daily_volume",
        asset=("raw", t),
        description=(
            f"Gate on the volume of raw.{t}'s last delivered day: compared with the same "
            "weekday over the four weeks before, and with how the demand-driven sources (POS, "
            "orders, checkouts) moved that day. A source that sends half its usual volume is "
            "a failed export."
        ),
        partitioned=True,
        query=daily.volume_query(t, VOLUME_TABLES),
        example_columns=("source", "day", "rows", "baseline_rows", "ratio", "relative_ratio"),
    )
    for t in VOLUME_TABLES
]

# Demand: the day's POS lines, orders and checkouts together against their usual sum.
# Every export shrinking at once passes each volume band (the demand index moved with
# them), and a small shop's sources are each below the volume bands' floor.
DEMAND_DATASETS: list[Dataset] = [
    Dataset(
        suite="raw_daily_demand",
        asset=("raw", t),
        description=(
            "Signal on the last delivered day: POS lines, shop orders and checkouts together "
            "against the same weekday's usual sum. Every export shrinking at once (5 POS lines, "
            "no orders, no checkouts) passes each source's volume band, since they moved "
            "together; it is a closure, or every feed broken at once."
        ),
        partitioned=True,
        query=daily.volume_query(t, VOLUME_TABLES),
        example_columns=(
            "source",
            "day",
            "rows",
            "demand_rows",
            "demand_baseline_rows",
            "demand_ratio",
        ),
    )
    for t in daily.DEMAND_TABLES
]

# The compliance check of any audience: a CTE `audience(customer_id, phone_e164)` comes
# first. Every fact and the verdict come from marts.dim_sms_reachability, the one rule the
# planner and the dispatch read too: a dbt *view* over consent and suppression, computed
# when read, so an opt-out loaded after the last build counts here. A phone the view does
# not know reads as invalid and without consent. The suite checks the facts one by one
# (each failure says which) and the marketing verdict as a whole.
AUDIENCE_CHECK = """
            SELECT
                a.customer_id,
                a.phone_e164,
                CASE r.consent_state WHEN 'opted_in' THEN 'opt_in' WHEN 'opted_out' THEN 'opt_out'
                     ELSE 'none' END AS latest_consent_event,
                r.opt_in_source AS latest_consent_source,
                r.opt_in_text_version AS latest_consent_text_version,
                r.suppression_reasons,
                coalesce(r.phone_is_valid, false) AS phone_is_valid,
                r.phone_type,
                coalesce(r.may_receive_marketing, false) AS may_receive_marketing,
                CASE WHEN r.phone_e164 IS NULL THEN 'no valid mobile number'
                     ELSE r.marketing_blocked_reason END AS marketing_blocked_reason,
                coalesce(r.may_receive_transactional, false) AS may_receive_transactional,
                CASE WHEN r.phone_e164 IS NULL THEN 'no valid mobile number'
                     ELSE r.transactional_blocked_reason END AS transactional_blocked_reason
            FROM audience AS a
            LEFT JOIN marts.dim_sms_reachability AS r ON r.phone_e164 = a.phone_e164
"""


# What a failed compliance example shows, on the mart and on every plan alike.
AUDIENCE_EXAMPLE_COLUMNS = (
    "customer_id",
    "phone_e164",
    "latest_consent_event",
    "suppression_reasons",
    "phone_is_valid",
    "phone_type",
    "marketing_blocked_reason",
)


def audience_query(audience_sql: str, params) -> tuple[str, object]:
    """The compliance batch of an audience given as SQL selecting customer_id, phone_e164."""
    return f"WITH audience AS ({audience_sql})\n{AUDIENCE_CHECK}", params


MART_DATASETS: list[Dataset] = [
    Dataset(
        suite="dim_customer_lifecycle",
        asset=("marts", "dim_customer_lifecycle"),
        description=(
            "Gate: every customer of dim_customers has exactly one lifecycle stage, and no "
            "stage belongs to an unknown customer. Campaigns pick people by stage."
        ),
        query=lambda start, end: (
            """
            SELECT
                coalesce(d.customer_id, l.customer_id) AS customer_id,
                count(l.customer_id) AS stage_rows,
                min(l.lifecycle_stage) AS lifecycle_stage,
                bool_or(d.customer_id IS NOT NULL) AS in_dim_customers
            FROM marts.dim_customers AS d
            FULL OUTER JOIN marts.dim_customer_lifecycle AS l ON l.customer_id = d.customer_id
            GROUP BY 1
            """,
            [],
        ),
        example_columns=("customer_id", "stage_rows", "lifecycle_stage", "in_dim_customers"),
    ),
    Dataset(
        suite="dim_customer_segments",
        asset=("marts", "dim_customer_segments"),
        description=(
            "Gate: no customer twice in a segment (per category, for category affinity), and "
            "only known segments. A duplicate would count and message someone twice."
        ),
        query=lambda start, end: (
            "SELECT customer_id, segment, coalesce(segment_detail, '') AS segment_detail "
            "FROM marts.dim_customer_segments",
            [],
        ),
        example_columns=("customer_id", "segment", "segment_detail"),
    ),
    Dataset(
        suite="sms_audience",
        asset=("marts", "dim_sms_audience"),
        description=(
            "Compliance gate, always blocking: nobody in the audience has opted out (per the "
            "live consent events, not yesterday's mart), is suppressed, lacks an explicit "
            "opt-in on record or has an invalid or non-mobile number; no customer and no "
            "phone appears twice."
        ),
        query=lambda start, end: audience_query(
            "SELECT customer_id, phone_e164 FROM marts.dim_sms_audience", []
        ),
        phone_columns=("phone_e164",),
        example_columns=AUDIENCE_EXAMPLE_COLUMNS,
    ),
]

ALL_DATASETS = [
    *RAW_DATASETS,
    *QUARANTINE_DATASETS,
    *VOLUME_DATASETS,
    *DEMAND_DATASETS,
    *MART_DATASETS,
]
