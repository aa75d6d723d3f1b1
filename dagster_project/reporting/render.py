"""The campaign performance report: rows of ``marts.mart_campaign_performance`` -> one HTML page.

Pure: a pandas DataFrame in, an HTML string out; no Dagster, no DuckDB, no
import from the rest of the project (a test loads this file on its own).

The page is one self-contained file that loads nothing from anywhere: CSS and
the two small scripts are inline, the charts are SVG drawn here, fonts are the
reader's own. Its Content-Security-Policy (``default-src 'none'``, the inline
style and scripts allowed by their hashes) makes the browser refuse any fetch
should one ever slip in, and a value that smuggled markup into the data can
neither load nor run anything. Jinja2 autoescapes every value in the template;
the SVG is built with ``markupsafe.Markup.format``, which escapes what it is given.

Rates are fractions (0..1) in the data and percentages on the page; lift is a
difference of conversion rates, shown in percentage points ("pts").
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

COLUMNS = (
    "campaign_id",
    "variant",
    "first_plan_day",
    "last_plan_day",
    "planned",
    "sent",
    "send_failed",
    "delivered",
    "undelivered",
    "delivery_rate",
    "clicks",
    "clicked_messages",
    "click_rate",
    "replies",
    "opt_outs",
    "opt_out_rate",
    "conversions",
    "revenue",
    "cost_usd",
    "roas",
    "treated_customers",
    "treated_converters",
    "treated_conversion_rate",
    "treated_revenue",
    "holdout_customers",
    "holdout_converters",
    "holdout_conversion_rate",
    "holdout_revenue",
    "lift_abs",
    "lift_abs_ci_low",
    "lift_abs_ci_high",
    "lift_rel",
    "lift_rel_ci_low",
    "lift_rel_ci_high",
    "incremental_revenue",
)
NUMERIC = COLUMNS[4:]  # everything after the ids and the plan days
LIFT = ("lift_abs", "lift_abs_ci_low", "lift_abs_ci_high")
NO_VARIANT = "-"
DASH = "\u2014"  # a missing value
MINUS = "\u2212"

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

# Colours: one blue for volumes, green/red for a lift whose interval excludes zero,
# grey for an inconclusive one.
BLUE, GREEN, RED, GREY, INK, RULE = "#2f6db5", "#1a7f37", "#b42318", "#6e7781", "#1f2328", "#d0d7de"


# ---------------------------------------------------------------------------
# numbers


def number(value: Any) -> float | None:
    """A finite float, or None for NULL, NaN, pd.NA and anything not numeric."""
    if value is None:
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def _signed(text: str) -> str:
    return text.replace("-", MINUS)


def fmt_count(value: Any) -> str:
    n = number(value)
    return DASH if n is None else _signed(f"{round(n):,}")


def fmt_pct(value: Any) -> str:
    """0.973 -> ``97.3%``; small shares keep a second decimal (0.0012 -> ``0.12%``)."""
    n = number(value)
    if n is None:
        return DASH
    pct = n * 100
    digits = 2 if 0 < abs(pct) < 1 else 1
    return _signed(f"{round(pct, digits) + 0.0:.{digits}f}%")


def fmt_usd(value: Any, whole: bool = False) -> str:
    """``$1,240`` from a thousand up (or when ``whole``), ``$12.50`` below."""
    n = number(value)
    if n is None:
        return DASH
    digits = 0 if whole or abs(n) >= 1000 else 2
    amount = round(abs(n), digits)
    text = f"${amount:,.{digits}f}"
    return (MINUS + text) if n < 0 and amount else text


def fmt_pts(value: Any, unit: bool = True) -> str:
    """A difference of rates in percentage points: 0.041 -> ``+4.1 pts``."""
    n = number(value)
    if n is None:
        return DASH
    text = _signed(f"{round(n * 100, 1) + 0.0:+.1f}")
    return f"{text} pts" if unit else text


def fmt_rel(value: Any) -> str:
    """A relative lift: 0.12 -> ``+12%``."""
    n = number(value)
    return DASH if n is None else _signed(f"{round(n * 100) + 0:+d}%")


def fmt_ratio(value: Any) -> str:
    """ROAS: revenue per dollar spent, 4.25 -> ``4.3×``."""
    n = number(value)
    return DASH if n is None else _signed(f"{n:,.1f}\u00d7")


def _day(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    try:
        return pd.Timestamp(value).date().isoformat()
    except (TypeError, ValueError):
        return str(value)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# ---------------------------------------------------------------------------
# one campaign and variant


@dataclass
class Entry:
    """One row of the mart, with what the page says about it."""

    campaign_id: str
    variant: str
    name: str
    label: str  # name, and the variant when there is one
    anchor: str
    period: str
    values: dict[str, float | None]
    verdict: str  # positive | negative | inconclusive | no-estimate
    sentence: str
    charts: dict[str, Markup] = field(default_factory=dict)

    @property
    def has_variant(self) -> bool:
        return self.variant != NO_VARIANT

    def get(self, column: str) -> float | None:
        return self.values.get(column)


def verdict(lift: float | None, low: float | None, high: float | None) -> str:
    if lift is None:
        return "no-estimate"
    if low is None or high is None or low <= 0 <= high:
        return "inconclusive"
    return "positive" if low > 0 else "negative"


def summary_sentence(entry_label: str, values: Mapping[str, Any]) -> str:
    """One plain-language sentence on the lift against the holdout (NULL and NaN alike)."""
    values = {column: number(values.get(column)) for column in NUMERIC}
    lift, low, high = (values.get(c) for c in LIFT)
    kind = verdict(lift, low, high)
    if kind == "no-estimate":
        if not values.get("holdout_customers"):
            return f"{entry_label}: no lift estimate yet: no holdout customers to compare with."
        return f"{entry_label}: no lift estimate yet: too little data in the treated group."
    if low is None or high is None:
        return (
            f"{entry_label}: inconclusive: {fmt_pts(lift)} conversion vs holdout, but too few "
            "customers for a confidence interval."
        )
    interval = f"95% CI {fmt_pts(low, unit=False)} to {fmt_pts(high, unit=False)}"
    if kind == "inconclusive":
        return (
            f"{entry_label}: inconclusive: interval includes zero "
            f"({fmt_pts(lift)} conversion vs holdout, {interval})."
        )
    money = values.get("incremental_revenue")
    revenue = "" if money is None else f", about {fmt_usd(money, whole=True)} incremental revenue"
    if kind == "negative":
        return (
            f"{entry_label}: {fmt_pts(lift)} conversion vs holdout ({interval}): fewer customers "
            f"bought than in the holdout{revenue}."
        )
    return f"{entry_label}: {fmt_pts(lift)} conversion vs holdout ({interval}){revenue}."


def _entries(frame: pd.DataFrame, names: Mapping[str, str]) -> list[Entry]:
    rows = frame.sort_values(["campaign_id", "variant"], key=lambda s: s.astype(str))
    entries = []
    for i, row in enumerate(rows.to_dict("records")):
        campaign_id = "" if row["campaign_id"] is None else str(row["campaign_id"])
        variant = row["variant"]
        variant = NO_VARIANT if variant is None or pd.isna(variant) else str(variant)
        name = names.get(campaign_id, campaign_id)
        label = name if variant == NO_VARIANT else f"{name} (variant {variant})"
        values = {c: number(row[c]) for c in NUMERIC}
        first, last = _day(row["first_plan_day"]), _day(row["last_plan_day"])
        period = " to ".join(dict.fromkeys(d for d in (first, last) if d))
        slug = re.sub(r"[^a-z0-9]+", "-", f"{campaign_id} {variant}".lower()).strip("-")[:48]
        entries.append(
            Entry(
                campaign_id=campaign_id,
                variant=variant,
                name=name,
                label=label,
                anchor=f"c{i + 1}-{slug}".rstrip("-"),
                period=period,
                values=values,
                verdict=verdict(*(values[c] for c in LIFT)),
                sentence=summary_sentence(label, values),
            )
        )
    return entries


# ---------------------------------------------------------------------------
# SVG


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (steps of 1, 2 or 5 times a power of ten)."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step - 1e-9) * step
    ticks, value = [], first
    while value <= high + 1e-9:
        ticks.append(round(value, 10) + 0.0)
        value += step
    return ticks


def _svg_open(uid: str, width: int, height: int, title: str, desc: str) -> Markup:
    return Markup(
        '<svg class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        'aria-labelledby="{uid}-t {uid}-d" preserveAspectRatio="xMinYMin meet">'
        '<title id="{uid}-t">{title}</title><desc id="{uid}-d">{desc}</desc>'
    ).format(uid=uid, w=width, h=height, title=title, desc=desc)


def bar_chart(
    uid: str,
    title: str,
    desc: str,
    bars: Sequence[tuple[str, float | None, str]],
    domain: tuple[float, float],
    *,
    colour: str = BLUE,
    width: int = 520,
    label_width: int = 150,
    value_width: int = 140,
) -> Markup:
    """Horizontal bars: (label, value, text shown beside the bar); a missing value draws none."""
    row, top = 26, 8
    height = top * 2 + row * len(bars)
    x0, x1 = label_width, width - value_width
    low, high = domain
    span = (high - low) or 1.0

    def x(value: float) -> float:
        return x0 + (min(max(value, low), high) - low) / span * (x1 - x0)

    parts = [_svg_open(uid, width, height, title, desc)]
    zero = x(0.0)
    for i, (label, value, text) in enumerate(bars):
        y = top + i * row
        parts.append(
            Markup("<g><title>{}: {}</title>").format(label, text)
            + Markup('<text x="{}" y="{}" class="label" text-anchor="end">{}</text>').format(
                x0 - 8, y + row / 2 + 4, _clip(label, 22)
            )
        )
        if value is not None:
            left, right = sorted((zero, x(value)))
            parts.append(
                Markup(
                    '<rect x="{:.1f}" y="{}" width="{:.1f}" height="{}" fill="{}" rx="2"/>'
                ).format(left, y + 4, max(right - left, 1.0 if value else 0.0), row - 8, colour)
            )
        parts.append(
            Markup('<text x="{}" y="{}" class="value">{}</text></g>').format(
                x1 + 8, y + row / 2 + 4, text
            )
        )
    if low < 0:
        parts.append(
            Markup('<line x1="{z:.1f}" x2="{z:.1f}" y1="{a}" y2="{b}" stroke="{c}"/>').format(
                z=zero, a=top - 2, b=height - top + 2, c=INK
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def funnel_chart(uid: str, entry: Entry) -> Markup:
    steps = [
        ("planned", "planned"),
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("clicked", "clicked_messages"),
        ("converted", "conversions"),
    ]
    planned = entry.get("planned")
    values = [(label, entry.get(column)) for label, column in steps]
    top = max([v for _, v in values if v is not None] + [1.0])
    bars = []
    for label, value in values:
        share = f" \u00b7 {fmt_pct(value / planned)}" if value is not None and planned else ""
        bars.append((label, value, fmt_count(value) + share))
    return bar_chart(
        uid,
        f"Funnel of {entry.label}",
        "Messages planned, sent, delivered and clicked, then the conversions attributed to them; "
        "the share of planned beside each bar. "
        + "; ".join(f"{label} {text}" for label, _, text in bars),
        bars,
        (0.0, top),
    )


def rates_chart(uid: str, entry: Entry) -> Markup:
    bars = [
        (label, entry.get(column), fmt_pct(entry.get(column)))
        for label, column in (
            ("delivery rate", "delivery_rate"),
            ("click rate", "click_rate"),
            ("opt-out rate", "opt_out_rate"),
        )
    ]
    return bar_chart(
        uid,
        f"Delivery, click and opt-out rates of {entry.label}",
        "Rates on a 0 to 100% scale. " + "; ".join(f"{label} {text}" for label, _, text in bars),
        bars,
        (0.0, 1.0),
    )


def money_chart(uid: str, entry: Entry) -> Markup:
    bars = [
        (label, entry.get(column), fmt_usd(entry.get(column)))
        for label, column in (
            ("cost", "cost_usd"),
            ("attributed revenue", "revenue"),
            ("incremental revenue", "incremental_revenue"),
        )
    ]
    present = [v for _, v, _ in bars if v is not None]
    domain = (min(present + [0.0]), max(present + [0.0]) or 1.0)
    roas = fmt_ratio(entry.get("roas"))
    return bar_chart(
        uid,
        f"Cost and revenue of {entry.label}, ROAS {roas}",
        f"US dollars. Return on ad spend (attributed revenue per dollar of SMS cost): {roas}. "
        + "; ".join(f"{label} {text}" for label, _, text in bars),
        bars,
        domain,
        colour=GREEN,
    )


def lift_domain(entries: Iterable[Entry]) -> tuple[float, float]:
    """The x range of every forest plot on the page, in points, zero always inside."""
    values = [0.0]
    for e in entries:
        values += [v * 100 for v in (e.get(c) for c in LIFT) if v is not None]
    low, high = min(values), max(values)
    pad = max((high - low) * 0.08, 0.5)
    return low - pad, high + pad


def forest_plot(uid: str, entries: Sequence[Entry], domain: tuple[float, float]) -> Markup:
    """Lift vs holdout with its 95% interval per row; a zero line marks "no effect"."""
    width, label_width, value_width = 760, 210, 190
    row, top, bottom = 30, 30, 42
    height = top + bottom + row * max(len(entries), 1)
    x0, x1 = label_width, width - value_width
    low, high = domain

    def x(points: float) -> float:
        return x0 + (points - low) / (high - low) * (x1 - x0)

    title = "Conversion lift vs holdout with 95% confidence intervals"
    desc = (
        "Difference between the treated and the holdout conversion rate, in percentage points; "
        "the whisker is the 95% confidence interval; the vertical line at zero means no effect. "
        + " ".join(e.sentence for e in entries)
    )
    parts = [_svg_open(uid, width, height, title, desc)]
    plot_bottom = height - bottom
    for tick in nice_ticks(low, high):
        tx = x(tick)
        parts.append(
            Markup(
                '<line x1="{x:.1f}" x2="{x:.1f}" y1="{a}" y2="{b}" stroke="{c}" '
                'stroke-width="0.5"/>'
                '<text x="{x:.1f}" y="{t}" class="tick" text-anchor="middle">{v}</text>'
            ).format(x=tx, a=top - 4, b=plot_bottom, c=RULE, t=plot_bottom + 14, v=_tick(tick))
        )
    zero = x(0.0)
    parts.append(
        Markup(
            '<line x1="{z:.1f}" x2="{z:.1f}" y1="{a}" y2="{b}" stroke="{c}" stroke-width="1.5" '
            'stroke-dasharray="4 3"/>'
            '<text x="{z:.1f}" y="{t}" class="zero" text-anchor="middle">no effect</text>'
            '<text x="{m:.1f}" y="{ay}" class="axis" text-anchor="middle">'
            "difference in conversion rate vs holdout (percentage points)</text>"
        ).format(
            z=zero, a=top - 8, b=plot_bottom, c=INK, t=top - 14, m=(x0 + x1) / 2, ay=height - 8
        )
    )
    for i, e in enumerate(entries):
        y = top + i * row + row / 2
        lift, lo, hi = (e.get(c) for c in LIFT)
        colour = {"positive": GREEN, "negative": RED}.get(e.verdict, GREY)
        parts.append(
            Markup(
                '<g class="{}"><title>{}</title>'
                '<text x="{}" y="{:.1f}" class="label" text-anchor="end">{}</text>'
            ).format(e.verdict, e.sentence, x0 - 10, y + 4, _clip(e.label, 30))
        )
        if lift is None:
            text = "no estimate"
        else:
            if lo is not None and hi is not None:
                a, b = x(lo * 100), x(hi * 100)
                parts.append(
                    Markup(
                        '<line x1="{a:.1f}" x2="{b:.1f}" y1="{y:.1f}" y2="{y:.1f}" stroke="{c}" '
                        'stroke-width="2"/>'
                        '<line x1="{a:.1f}" x2="{a:.1f}" y1="{u:.1f}" y2="{d:.1f}" stroke="{c}" '
                        'stroke-width="2"/>'
                        '<line x1="{b:.1f}" x2="{b:.1f}" y1="{u:.1f}" y2="{d:.1f}" stroke="{c}" '
                        'stroke-width="2"/>'
                    ).format(a=a, b=b, y=y, u=y - 6, d=y + 6, c=colour)
                )
                text = f"{fmt_pts(lift)} ({fmt_pts(lo, False)} to {fmt_pts(hi, False)})"
            else:
                text = f"{fmt_pts(lift)} (no interval)"
            # Filled when the interval excludes zero; hollow when inconclusive.
            fill = colour if e.verdict in ("positive", "negative") else "#ffffff"
            parts.append(
                Markup(
                    '<circle cx="{:.1f}" cy="{:.1f}" r="5" fill="{}" stroke="{}" stroke-width="2"/>'
                ).format(x(lift * 100), y, fill, colour)
            )
        parts.append(
            Markup('<text x="{}" y="{:.1f}" class="value">{}</text></g>').format(
                x1 + 10, y + 4, text
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def _tick(value: float) -> str:
    text = f"{value:+.1f}" if value % 1 else f"{value:+.0f}"
    return "0" if value == 0 else _signed(text)


# ---------------------------------------------------------------------------
# the page


def headline_rows(entries: Sequence[Entry]) -> list[dict[str, str]]:
    """The headline table as display strings (also the asset's Markdown preview)."""
    return [
        {
            "campaign": e.name,
            "variant": e.variant,
            "lift vs holdout (95% CI)": _lift_cell(e),
            "incremental revenue": fmt_usd(e.get("incremental_revenue")),
            "sent": fmt_count(e.get("sent")),
            "delivered": fmt_pct(e.get("delivery_rate")),
            "clicked": fmt_pct(e.get("click_rate")),
            "opted out": fmt_pct(e.get("opt_out_rate")),
            "conversions": fmt_count(e.get("conversions")),
            "revenue": fmt_usd(e.get("revenue")),
            "cost": fmt_usd(e.get("cost_usd")),
            "ROAS": fmt_ratio(e.get("roas")),
            "plan days": e.period,
        }
        for e in entries
    ]


def _lift_cell(e: Entry) -> str:
    lift, lo, hi = (e.get(c) for c in LIFT)
    if lift is None:
        return DASH
    if lo is None or hi is None:
        return f"{fmt_pts(lift)} (no CI)"
    return f"{fmt_pts(lift)} ({fmt_pts(lo, False)} to {fmt_pts(hi, False)})"


def build_entries(frame: pd.DataFrame, names: Mapping[str, str] | None = None) -> list[Entry]:
    """The page's rows, sorted by campaign and variant; raises on a missing column."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError("the campaign performance frame lacks column(s) " + ", ".join(missing))
    return _entries(frame, names or {})


def render_report(
    frame: pd.DataFrame,
    *,
    generated_at: dt.datetime | None = None,
    names: Mapping[str, str] | None = None,
) -> str:
    """The report as one HTML document.

    ``frame`` has the columns of ``marts.mart_campaign_performance`` (extra columns
    are ignored). ``names`` maps campaign ids to display names; ids are shown where
    it has none. ``generated_at`` is printed on the page (default: now, UTC).
    """
    entries = build_entries(frame, names)
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
    totals = {
        "campaigns": fmt_count(len({e.campaign_id for e in entries})),
        "sent": fmt_count(total("sent")),
        "revenue": fmt_usd(total("revenue")),
        "cost": fmt_usd(total("cost_usd")),
        "incremental": fmt_usd(total("incremental_revenue")),
        "period": " to ".join(dict.fromkeys((min(days), max(days)))) if days else "",
    }
    template = _env.get_template("report.html.j2")
    return template.render(
        entries=entries,
        headline=headline_rows(entries),
        overview=forest_plot("overview", entries, domain) if entries else Markup(""),
        totals=totals,
        generated_at=generated_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        csp=CONTENT_SECURITY_POLICY,
        css=Markup(CSS),
        error_script=Markup(ERROR_SCRIPT),
        ready_script=Markup(READY_SCRIPT),
        fmt=dict(count=fmt_count, pct=fmt_pct, usd=fmt_usd, pts=fmt_pts, rel=fmt_rel),
    )
