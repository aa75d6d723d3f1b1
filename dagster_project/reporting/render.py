"""The campaign performance report: rows of ``marts.mart_campaign_performance`` -> one HTML page.

Pure: a pandas DataFrame in, an HTML string out; no Dagster, no DuckDB, no
import from the rest of the project (a test loads this package's files on their own).
What the page concludes is decided in ``verdicts``, the figures it prints with their
units in ``entries``, the SVG in ``charts``; this module lays the page out.

The page is one self-contained file that loads nothing from anywhere: CSS and
the two small scripts are inline, the charts are SVG, fonts are the reader's own.
Its Content-Security-Policy (``default-src 'none'``, the inline style and scripts
allowed by their hashes) makes the browser refuse any fetch should one ever slip
in, and a value that smuggled markup into the data can neither load nor run
anything. Jinja2 autoescapes every value in the template; the SVG is built with
``markupsafe.Markup.format``, which escapes what it is given.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from .charts import forest_plot, funnel_chart, lift_domain, money_chart, rates_chart
from .entries import COLUMNS, LIFT, NO_VARIANT, Entry, build_entries
from .formats import DASH, fmt_count, fmt_interval, fmt_pct, fmt_pts, fmt_rel, fmt_usd
from .verdicts import DEFAULT_MIN_PER_ARM, KINDS, Rules

__all__ = [
    "COLUMNS",
    "NO_VARIANT",
    "Cell",
    "Rules",
    "build_entries",
    "headline_rows",
    "render_report",
]

_TEMPLATES = Path(__file__).resolve().parent / "templates"
_env = Environment(
    loader=FileSystemLoader(_TEMPLATES),
    autoescape=True,  # the template is .html.j2: select_autoescape would not match it
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)

# The only scripts on the page: report errors into an attribute, then mark the page
# ready. A browser test reads both; a person never notices them.
ERROR_SCRIPT = (
    "window.onerror=function(m,s,l){var d=document.documentElement.dataset;"
    'd.errors=(d.errors?d.errors+"\\n":"")+m+(l?" (line "+l+")":"");};'
)
READY_SCRIPT = 'document.documentElement.dataset.ready="1";'
CSS = (_TEMPLATES / "report.css").read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CONTENT_SECURITY_POLICY = (
    "default-src 'none'; "
    f"style-src {_csp_hash(CSS)}; "
    f"script-src {_csp_hash(ERROR_SCRIPT)} {_csp_hash(READY_SCRIPT)}; "
    "img-src 'none'; base-uri 'none'; form-action 'none'"
)


@dataclass(frozen=True)
class Cell:
    """One headline cell: its figure, and a second line saying what it counts."""

    text: str
    note: str = ""
    tone: str = ""  # the verdict column only: the badge colour

    def plain(self) -> str:
        return f"{self.text} ({self.note})" if self.note else self.text


def headline_columns(rules: Rules) -> list[tuple[str, str, str]]:
    """(key, header, unit line) of the headline table, left to right."""
    return [
        ("campaign", "campaign", ""),
        ("verdict", "verdict", ""),
        ("bought", f"bought {rules.window}", "treated vs holdout"),
        ("lift", "conversion lift", "pts vs holdout, 95% CI"),
        ("incremental", "incremental revenue", "vs holdout"),
        ("revenue", "attributed revenue", "and orders"),
        ("cost", "SMS cost", ""),
        ("roas", "ROAS", "revenue \u00f7 cost"),
        ("delivered", "delivered", "% of sent"),
        ("clicked", "clicked", "% of delivered"),
        ("opted_out", "opted out", "% of delivered"),
    ]


def headline_rows(entries: Sequence[Entry]) -> list[dict[str, Cell]]:
    """The headline table as display cells (also the asset's Markdown preview)."""
    return [_headline(e) for e in entries]


def _headline(e: Entry) -> dict[str, Cell]:
    lift, lo, hi = (e.get(c) for c in LIFT)
    treated, held = e.get("treated_customers"), e.get("holdout_customers")
    return {
        "campaign": Cell(e.name, f"variant {e.variant}" if e.has_variant else ""),
        "verdict": Cell(e.verdict.label, tone=e.verdict.tone),
        "bought": Cell(
            f"{_share(e, 'treated')} vs {_share(e, 'holdout')}",
            f"{fmt_count(e.get('treated_converters'))} of {fmt_count(treated)} \u00b7 "
            f"{fmt_count(e.get('holdout_converters'))} of {fmt_count(held)}",
        ),
        "lift": Cell(
            fmt_pts(lift),
            ""
            if lift is None
            else "no interval"
            if lo is None or hi is None
            else fmt_interval(lo, hi),
        ),
        "incremental": Cell(fmt_usd(e.get("incremental_revenue"))),
        "revenue": Cell(fmt_usd(e.get("revenue")), e.orders.removesuffix(" attributed")),
        "cost": Cell(fmt_usd(e.get("cost_usd"))),
        "roas": Cell(e.roas, "tiny cost" if e.tiny_cost else ""),
        "delivered": Cell(e.rate("delivery"), e.rate_of("delivery").removesuffix(" sent")),
        "clicked": Cell(e.rate("click"), e.rate_of("click").removesuffix(" delivered")),
        "opted_out": Cell(e.rate("opt-out"), e.rate_of("opt-out").removesuffix(" delivered")),
    }


def _share(e: Entry, arm: str) -> str:
    units = e.get(f"{arm}_customers")
    converters = e.get(f"{arm}_converters")
    return fmt_pct(converters / units) if units and converters is not None else DASH


def render_report(
    frame: pd.DataFrame,
    *,
    generated_at: dt.datetime | None = None,
    names: Mapping[str, str] | None = None,
    rules: Rules | None = None,
) -> str:
    """The report as one HTML document.

    ``frame`` has the columns of ``marts.mart_campaign_performance`` (extra columns
    are ignored). ``names`` maps campaign ids to display names; ids are shown where
    it has none. ``rules`` are the settings the page judges by (minimum recipients
    per group, the lift window, what counts as a tiny cost); every one is printed on
    the page. ``generated_at`` is printed too (default: now, UTC).
    """
    rules = rules or Rules()
    entries = build_entries(frame, names, rules)
    generated_at = generated_at or dt.datetime.now(dt.UTC)
    domain = lift_domain(entries)
    for i, e in enumerate(entries, start=1):
        e.charts = {
            "funnel": funnel_chart(f"f{i}", e),
            "rates": rates_chart(f"r{i}", e),
            "lift": forest_plot(f"l{i}", [e], domain),
            "money": money_chart(f"m{i}", e),
        }

    def total(column: str) -> float:
        return sum(e.get(column) or 0.0 for e in entries)

    days = [d for e in entries for d in e.period.split(" to ") if d]
    judged = [e for e in entries if e.verdict.judged]
    totals = {
        "campaigns": fmt_count(len({e.campaign_id for e in entries})),
        "sent": fmt_count(total("sent")),
        "orders": fmt_count(total("conversions")),
        "revenue": fmt_usd(total("revenue")),
        "cost": fmt_usd(total("cost_usd")),
        # Only what the page judged: a holdout of one customer credits any amount at all.
        "incremental": fmt_usd(
            sum(e.get("incremental_revenue") or 0.0 for e in judged) if judged else None
        ),
        "unjudged": len(entries) - len(judged),
        "period": " to ".join(dict.fromkeys((min(days), max(days)))) if days else "",
    }
    template = _env.get_template("report.html.j2")
    return template.render(
        entries=entries,
        columns=headline_columns(rules),
        headline=headline_rows(entries),
        overview=forest_plot("overview", entries, domain) if entries else Markup(""),
        totals=totals,
        rules=rules,
        default_min=DEFAULT_MIN_PER_ARM,
        kinds=KINDS,
        generated_at=generated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        csp=CONTENT_SECURITY_POLICY,
        css=Markup(CSS),
        error_script=Markup(ERROR_SCRIPT),
        ready_script=Markup(READY_SCRIPT),
        fmt=dict(count=fmt_count, pct=fmt_pct, usd=fmt_usd, pts=fmt_pts, rel=fmt_rel),
    )
