"""Read the campaign performance mart and write the report file, atomically.

``write_report`` is what a caller outside Dagster (the pipeline CLI) uses; the
asset in ``assets`` calls it too. A reader of the report (a browser, a file
share) sees the previous file or the new one, never a half-written page: each
file is written beside its target and renamed into place.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from dagster_project import settings
from dagster_project.reporting.render import COLUMNS, Rules, render_report

SCHEMA, TABLE = "marts", "mart_campaign_performance"
REPORT_NAME = "campaign_performance"
# The lift's purchase window is a dbt var; the mart does not carry it, so the page reads
# it where dbt does (a file of the dbt project, not its code).
DBT_PROJECT_FILE = settings.REPO_ROOT / "dbt" / "dbt_project.yml"
WINDOW_VAR = "attribution_days_after_delivery"


class MissingMartError(LookupError):
    """The mart the report reads has not been built yet."""


def read_campaign_performance(conn: Any) -> pd.DataFrame:
    """The mart's rows (the columns the report uses), from a DuckDB connection."""
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = current_database() "
        "AND table_schema = ? AND table_name = ?",
        [SCHEMA, TABLE],
    ).fetchone()[0]
    if not exists:
        raise MissingMartError(
            f"{SCHEMA}.{TABLE} does not exist yet: build the dbt models (dbt build) first"
        )
    columns = ", ".join(f'"{c}"' for c in COLUMNS)
    return conn.execute(
        f"SELECT {columns} FROM {SCHEMA}.{TABLE} ORDER BY campaign_id, variant"
    ).df()


def lift_window_days(path: Path = DBT_PROJECT_FILE) -> int:
    """``vars.attribution_days_after_delivery`` of the dbt project: the days after a message
    within which a purchase counts for the lift. A missing or invalid value fails naming
    the file and the field: the page would otherwise print a window the mart did not use."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"{path}: cannot read the dbt project: {error}") from error
    value = ((data or {}).get("vars") or {}).get(WINDOW_VAR) if isinstance(data, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"{path}: field vars.{WINDOW_VAR}: a whole number of days >= 1, not {value!r}"
        )
    return value


def default_rules() -> Rules:
    """The rules the page judges by: ``SMS_REPORT_MIN_PER_ARM`` and the dbt window."""
    minimum = settings.report_min_per_arm()
    window = lift_window_days()
    return Rules(window_days=window) if minimum is None else Rules(minimum, window)


def dated_name(day: dt.date) -> str:
    return f"{REPORT_NAME}-{day:%Y-%m-%d}.html"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, flush it to disk, rename it over."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_report(
    conn_or_frame: Any,
    out_dir: str | Path,
    *,
    now: dt.datetime | None = None,
    names: Mapping[str, str] | None = None,
    rules: Rules | None = None,
) -> Path:
    """Render the report into ``out_dir``; return the path of ``campaign_performance.html``.

    ``conn_or_frame`` is a DuckDB connection to the warehouse (read-only is enough)
    or a DataFrame with the mart's columns. Beside the current report goes a dated
    copy, ``campaign_performance-YYYY-MM-DD.html`` (the UTC day of ``now``), so
    earlier days stay readable. ``names`` maps campaign ids to display names; ``rules``
    default to ``default_rules()``.
    """
    frame = (
        conn_or_frame
        if isinstance(conn_or_frame, pd.DataFrame)
        else read_campaign_performance(conn_or_frame)
    )
    now = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    html = render_report(frame, generated_at=now, names=names, rules=rules or default_rules())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{REPORT_NAME}.html"
    atomic_write_text(out / dated_name(now.date()), html)
    atomic_write_text(path, html)
    return path
