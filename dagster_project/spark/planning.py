"""A campaign's plan from the marts a Spark build made (nothing written or sent)."""

import datetime as dt
from pathlib import Path

import duckdb

from dagster_project import opstore
from dagster_project.activation import planner
from dagster_project.activation.resources import CampaignBook
from dagster_project.spark.marts import PLANNER_MARTS, marts_connection


def plans_from_spark(
    spark, book: CampaignBook, campaign_ids, day: dt.date, now: dt.datetime, warehouse: Path
) -> dict[str, planner.Plan]:
    """The plans ``build_plan`` makes when the candidates come from Spark's marts (read
    once for all of them). What was already sent comes from the operational store, as for
    any plan: the warehouse's ledger (embedded) or PostgreSQL (``SMS_OPSTORE``)."""
    marts = marts_connection(spark, PLANNER_MARTS)
    try:
        with (
            duckdb.connect(str(warehouse), read_only=True) as conn,
            opstore.connection(conn) as store,
        ):
            return {
                campaign_id: planner.build_plan(
                    marts,
                    book.get(campaign_id),
                    day,
                    now,
                    book.policy,
                    planner.default_renderer_factory,
                    book.prices,
                    store=store,
                )  # fmt: skip
                for campaign_id in campaign_ids
            }
    finally:
        marts.close()
