"""Dagster asset of the ``reports`` group: the campaign performance page.

Thin: the page is drawn by ``render``, the file written by ``report``. The asset
reads ``marts.mart_campaign_performance`` over a short-lived read-only
connection, in the warehouse pool like every step that opens the DuckDB file
(a read-only open still conflicts with a writer in another process).
"""

import datetime as dt

from dagster import AssetExecutionContext, AssetKey, MaterializeResult, MetadataValue, asset

from dagster_project import settings
from dagster_project.lib.metadata import md_table
from dagster_project.quality.gates import require_passing_gates
from dagster_project.reporting.render import build_entries, headline_columns, headline_rows
from dagster_project.reporting.report import (
    dated_name,
    default_rules,
    read_campaign_performance,
    write_report,
)
from dagster_project.warehouse import WAREHOUSE_POOL, WarehouseResource

# The key dagster-dbt gives the dbt model: its configured schema (`+schema: marts`
# for models/marts/) and its name; the transform code is not imported.
MART_KEY = AssetKey(["marts", "mart_campaign_performance"])
REPORT_KEY = AssetKey(["reports", "campaign_performance"])
PREVIEW_COLUMNS = ("campaign", "verdict", "bought", "lift", "incremental", "revenue", "roas")
PREVIEW_ROWS = 20


def preview_table(frame, rules) -> str:
    """The headline table's first columns in Markdown, each figure with what it counts."""
    headers = {
        key: f"{header} ({unit})" if unit else header
        for key, header, unit in headline_columns(rules)
    }
    rows = headline_rows(build_entries(frame, rules=rules))
    table = md_table(
        [headers[c] for c in PREVIEW_COLUMNS],
        [[r[c].plain() for c in PREVIEW_COLUMNS] for r in rows[:PREVIEW_ROWS]],
    )
    more = len(rows) - PREVIEW_ROWS
    return table + (f"\n\n… and {more} more rows in the report" if more > 0 else "")


@asset(
    key=REPORT_KEY,
    group_name="reports",
    deps=[MART_KEY],
    pool=WAREHOUSE_POOL,
    kinds={"duckdb", "html"},
    description=(
        "Campaign performance report: one self-contained HTML page (no network, open it "
        "from disk) with each campaign's verdict (conversion lift and incremental revenue "
        "against the holdout, judged from SMS_REPORT_MIN_PER_ARM recipients per group), "
        "message funnel and rates, cost against revenue, at "
        "`$SMS_DATA_DIR/reports/campaign_performance.html`, plus a dated copy per day."
    ),
)
def campaign_performance_report(
    context: AssetExecutionContext, warehouse: WarehouseResource
) -> MaterializeResult:
    require_passing_gates(context)  # a report never shows what a gate refused
    with warehouse.get_connection(read_only=True) as conn:
        frame = read_campaign_performance(conn)
    now = dt.datetime.now(dt.UTC)
    rules = default_rules()
    path = write_report(frame, settings.reports_dir(), now=now, rules=rules)
    dated = path.with_name(dated_name(now.date()))
    context.log.info(f"campaign performance report ({len(frame)} rows) written to {path}")
    return MaterializeResult(
        metadata={
            "report": MetadataValue.path(str(path)),
            "report_url": MetadataValue.url(path.as_uri()),
            "dated_copy": MetadataValue.path(str(dated)),
            "campaigns": int(frame["campaign_id"].nunique()),
            "rows": len(frame),
            "min_recipients_per_group": rules.min_per_arm,
            "size_kib": round(path.stat().st_size / 1024, 1),
            "preview": MetadataValue.md(preview_table(frame, rules)),
        }
    )
