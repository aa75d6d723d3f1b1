"""Rows shaped like ``marts.mart_campaign_performance``, for the report tests.

The dbt model is built elsewhere; these rows follow its documented columns
(rates as fractions, lift as a difference of rates, NULL intervals allowed).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from dagster_project.reporting.render import COLUMNS

# Column types as the warehouse would hold them (money as DECIMAL, days as DATE).
DDL_TYPES = {
    "campaign_id": "VARCHAR",
    "variant": "VARCHAR",
    "first_plan_day": "DATE",
    "last_plan_day": "DATE",
    **{
        c: "BIGINT"
        for c in (
            "planned",
            "sent",
            "send_failed",
            "delivered",
            "undelivered",
            "clicks",
            "clicked_messages",
            "replies",
            "opt_outs",
            "conversions",
            "treated_customers",
            "treated_converters",
            "holdout_customers",
            "holdout_converters",
        )
    },
    **{
        c: "DECIMAL(18, 2)"
        for c in (
            "revenue",
            "cost_usd",
            "treated_revenue",
            "holdout_revenue",
            "incremental_revenue",
        )
    },
}


def performance_row(campaign_id: str, variant: str = "-", **values) -> dict:
    """A plausible row: 5,000 planned, 4,700 delivered, 310 conversions; override anything."""
    holdout, treated = 530, 4800
    row = dict(
        campaign_id=campaign_id,
        variant=variant,
        first_plan_day=dt.date(2026, 1, 5),
        last_plan_day=dt.date(2026, 2, 20),
        planned=5000,
        sent=4900,
        send_failed=100,
        delivered=4700,
        undelivered=200,
        delivery_rate=4700 / 4900,
        clicks=600,
        clicked_messages=520,
        click_rate=520 / 4700,
        replies=40,
        opt_outs=12,
        opt_out_rate=12 / 4700,
        conversions=310,
        revenue=15400.50,
        cost_usd=392.00,
        roas=15400.50 / 392.00,
        treated_customers=treated,
        treated_converters=290,
        treated_conversion_rate=290 / treated,
        treated_revenue=14000.00,
        holdout_customers=holdout,
        holdout_converters=10,
        holdout_conversion_rate=10 / holdout,
        holdout_revenue=600.00,
        lift_abs=0.041,
        lift_abs_ci_low=0.010,
        lift_abs_ci_high=0.072,
        lift_rel=0.35,
        lift_rel_ci_low=0.08,
        lift_rel_ci_high=0.62,
        incremental_revenue=1240.40,
    )
    unknown = set(values) - set(row)
    assert not unknown, f"not a column of the mart: {unknown}"
    row.update(values)
    return row


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(COLUMNS))


def three_campaigns() -> pd.DataFrame:
    """A clear win, a campaign that did nothing (interval around zero), one with no interval."""
    return frame(
        performance_row("winback-lapsed"),
        performance_row(
            "vip-thank-you",
            lift_abs=0.0,
            lift_abs_ci_low=-0.021,
            lift_abs_ci_high=0.021,
            lift_rel=0.0,
            lift_rel_ci_low=-0.3,
            lift_rel_ci_high=0.3,
            incremental_revenue=0.0,
        ),
        performance_row(
            "newcomer-offer",
            holdout_customers=3,
            holdout_converters=0,
            holdout_conversion_rate=0.0,
            lift_abs=0.02,
            lift_abs_ci_low=None,
            lift_abs_ci_high=None,
            lift_rel=None,
            lift_rel_ci_low=None,
            lift_rel_ci_high=None,
            incremental_revenue=None,
        ),
    )


def create_mart(conn, data: pd.DataFrame) -> None:
    """``marts.mart_campaign_performance`` by hand, as the dbt model would leave it."""
    columns = ", ".join(f'"{c}" {DDL_TYPES.get(c, "DOUBLE")}' for c in COLUMNS)
    conn.execute("CREATE SCHEMA IF NOT EXISTS marts")
    conn.execute(f"CREATE OR REPLACE TABLE marts.mart_campaign_performance ({columns})")
    conn.register("_report_rows", data)
    conn.execute("INSERT INTO marts.mart_campaign_performance SELECT * FROM _report_rows")
    conn.unregister("_report_rows")
