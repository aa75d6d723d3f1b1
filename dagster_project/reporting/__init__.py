"""Reporting: pages for people, drawn from the marts (the campaign performance report).

Reads tables only, never an earlier stage's code: campaigns are shown by their
ids (their display names live in activation's campaign files).
"""

from dagster import Definitions

from dagster_project.reporting.assets import campaign_performance_report
from dagster_project.reporting.report import write_report

__all__ = ["campaign_performance_report", "defs", "write_report"]

defs = Definitions(assets=[campaign_performance_report])
