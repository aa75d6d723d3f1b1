"""Do the marts describe a day the data reaches? The newest purchase against the as-of day.

The customer marts are computed as of one day (dbt var ``as_of``, default today).
Load a history that ends months ago without saying so and every customer comes
out "lapsed": nothing fails, the numbers are just wrong. After each build the
newest purchase day the marts see (``marts.fct_orders.ordered_on``, the day a
purchase counts on; the UTC date of ``ordered_at`` where there is no such
column) is compared with the day they describe
(``marts.dim_customer_lifecycle.as_of_date``); more than
``SMS_STALE_AFTER_DAYS`` (default 30) between them is a warning, in the
command line's output and in the dbt asset's metadata.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb

from dagster_project import settings


@dataclass(frozen=True)
class Freshness:
    as_of: dt.date
    newest_purchase_on: dt.date | None  # the newest purchase day on or before the as-of day
    newest_purchase_at: dt.datetime | None  # the newest purchase of that day, UTC
    purchases_after: int  # purchases dated after the as-of day (not counted by the marts)
    stale_after_days: int

    @property
    def days_behind(self) -> int | None:
        if self.newest_purchase_on is None:
            return None
        return (self.as_of - self.newest_purchase_on).days

    @property
    def stale(self) -> bool:
        return self.days_behind is None or self.days_behind > self.stale_after_days

    def warning(self) -> str | None:
        if not self.stale:
            return None
        if self.newest_purchase_on is None:
            return (
                f"the marts describe {self.as_of} but see no purchase on or before that day, "
                "so every customer is a prospect: is the as-of day (--as-of) right?"
            )
        newest = self.newest_purchase_on
        return (
            f"the newest purchase ({newest}) is {self.days_behind} days before the day the "
            f"marts describe ({self.as_of}): customers look lapsed because the data stops, not "
            f"because they stopped buying. Build as of the data's last day (--as-of {newest}) "
            f"or load newer data (threshold: SMS_STALE_AFTER_DAYS={self.stale_after_days})"
        )

    def metadata(self) -> dict:
        return {
            "as_of": self.as_of.isoformat(),
            "newest_purchase_on": (
                self.newest_purchase_on.isoformat() if self.newest_purchase_on else None
            ),
            "newest_purchase_at": (
                self.newest_purchase_at.isoformat(sep=" ") if self.newest_purchase_at else None
            ),
            "days_since_newest_purchase": self.days_behind,
            "purchases_after_as_of": self.purchases_after,
            "stale_after_days": self.stale_after_days,
            "stale_data_warning": self.warning() or "",
        }


def _columns(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    return {
        row[0]
        for row in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    }


def read_freshness(
    conn: duckdb.DuckDBPyConnection,
    as_of: dt.date | None = None,
    stale_after_days: int | None = None,
) -> Freshness | None:
    """The marts' as-of day and newest purchase; None when the marts are not built."""
    lifecycle = _columns(conn, "marts", "dim_customer_lifecycle")
    orders = _columns(conn, "marts", "fct_orders")
    if "ordered_at" not in orders:
        return None
    if "as_of_date" in lifecycle:
        built = conn.execute("SELECT max(as_of_date) FROM marts.dim_customer_lifecycle").fetchone()[
            0
        ]
        as_of = built or as_of  # the day dbt really used, when there is a customer
    as_of = as_of or dt.datetime.now(dt.UTC).date()
    purchase = "is_purchase" if "is_purchase" in orders else "true"
    day = "ordered_on" if "ordered_on" in orders else "CAST(ordered_at AS DATE)"
    newest_on, newest_at, after = conn.execute(
        f"""
        WITH purchases AS (
            SELECT {day} AS purchase_day, ordered_at FROM marts.fct_orders WHERE {purchase}
        ),
        newest AS (SELECT max(purchase_day) AS d FROM purchases WHERE purchase_day <= ?)
        SELECT (SELECT d FROM newest),
               max(ordered_at) FILTER (WHERE purchase_day = (SELECT d FROM newest)),
               count(*) FILTER (WHERE purchase_day > ?)
        FROM purchases
        """,
        [as_of, as_of],
    ).fetchone()
    return Freshness(
        as_of=as_of,
        newest_purchase_on=newest_on,
        newest_purchase_at=newest_at,
        purchases_after=after,
        stale_after_days=settings.stale_after_days()
        if stale_after_days is None
        else stale_after_days,
    )
