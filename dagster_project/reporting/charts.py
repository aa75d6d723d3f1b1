"""The report's charts as inline SVG: bars (funnel, rates, money) and the lift forest plot.

Pure: entries in, ``Markup`` out. Every value goes through ``Markup.format``, which
escapes it, so a campaign id cannot add an element. Each chart has a ``<title>`` and a
``<desc>`` that say in words what it draws, with the same units as the page's text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from markupsafe import Markup

from .entries import LIFT, RATES, Entry
from .formats import MINUS, clip, fmt_count, fmt_interval, fmt_pts, fmt_share, fmt_usd

# One blue for volumes; a lift's colour follows its verdict's tone: green both better,
# red both worse, amber when buyers and revenue disagree, grey when not judged.
BLUE, GREEN, RED, AMBER, GREY = "#2f6db5", "#1a7f37", "#b42318", "#9a6700", "#6e7781"
INK, RULE = "#1f2328", "#d0d7de"
TONES = {"good": GREEN, "bad": RED, "mixed": AMBER}


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
                x0 - 8, y + row / 2 + 4, clip(label, 22)
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
    """Messages only: each step with its share of the step before (the page's one
    definition of the delivery and click rates). Orders are not messages: not drawn here."""
    steps = [
        ("planned", entry.get("planned"), ""),
        (
            "sent",
            entry.get("sent"),
            f"{fmt_share(entry.get('sent'), entry.get('planned'))} of planned",
        ),
        ("delivered", entry.get("delivered"), f"{entry.rate('delivery')} of sent"),
        ("clicked", entry.get("clicked_messages"), f"{entry.rate('click')} of delivered"),
    ]
    top = max([v for _, v, _ in steps if v is not None] + [1.0])
    bars = [
        (label, value, fmt_count(value) + (f" \u00b7 {share}" if share else ""))
        for label, value, share in steps
    ]
    return bar_chart(
        uid,
        f"Message funnel of {entry.label}",
        "Messages planned, sent, delivered and clicked (a message clicked several times counts "
        "once); beside each bar its count and its share of the step before. "
        + "; ".join(f"{label} {text}" for label, _, text in bars),
        bars,
        (0.0, top),
        value_width=170,
    )


def rates_chart(uid: str, entry: Entry) -> Markup:
    bars = []
    for name in ("delivery", "click", "opt-out"):
        part, whole = RATES[name][:2]
        value, base = entry.get(part), entry.get(whole)
        share = value / base if value is not None and base else None
        bars.append((f"{name} rate", share, f"{entry.rate(name)} ({entry.rate_of(name)})"))
    return bar_chart(
        uid,
        f"Delivery, click and opt-out rates of {entry.label}",
        "Rates on a 0 to 100% scale: delivered of sent, clicked of delivered, opted out of "
        "delivered messages. " + "; ".join(f"{label} {text}" for label, _, text in bars),
        bars,
        (0.0, 1.0),
        value_width=210,
    )


def money_chart(uid: str, entry: Entry) -> Markup:
    bars = [
        (label, entry.get(column), fmt_usd(entry.get(column)))
        for label, column in (
            ("SMS cost", "cost_usd"),
            ("attributed revenue", "revenue"),
            ("incremental revenue", "incremental_revenue"),
        )
    ]
    present = [v for _, v, _ in bars if v is not None]
    domain = (min(present + [0.0]), max(present + [0.0]) or 1.0)
    return bar_chart(
        uid,
        f"Cost and revenue of {entry.label}, ROAS {entry.roas}",
        f"US dollars. ROAS {entry.roas} = {entry.roas_parts}. "
        + "; ".join(f"{label} {text}" for label, _, text in bars),
        bars,
        domain,
        colour=GREEN,
    )


def lift_domain(entries: Iterable[Entry]) -> tuple[float, float]:
    """The x range of every forest plot on the page, in points, zero always inside.

    Only judged entries count: a holdout of one customer gives an interval of tens of
    points that would squash every real result into a sliver.
    """
    values = [0.0]
    for e in entries:
        if e.verdict.judged:
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
        "Share of treated recipients who bought minus the holdout's, in percentage points; "
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
            "share of treated who bought minus share of holdout (percentage points)</text>"
        ).format(
            z=zero, a=top - 8, b=plot_bottom, c=INK, t=top - 14, m=(x0 + x1) / 2, ay=height - 8
        )
    )
    for i, e in enumerate(entries):
        y = top + i * row + row / 2
        lift, lo, hi = (e.get(c) for c in LIFT)
        colour = TONES.get(e.verdict.tone, GREY)
        parts.append(
            Markup(
                '<g class="{}"><title>{}</title>'
                '<text x="{}" y="{:.1f}" class="label" text-anchor="end">{}</text>'
            ).format(e.verdict.kind, e.sentence, x0 - 10, y + 4, clip(e.label, 30))
        )
        if not e.verdict.judged or lift is None:
            # Too few recipients: no point to misread, only the verdict.
            text = e.verdict.label
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
                text = f"{fmt_pts(lift)} ({fmt_interval(lo, hi)})"
            else:
                text = f"{fmt_pts(lift)} (no interval)"
            # Filled when the interval excludes zero; hollow when inconclusive.
            fill = colour if e.verdict.interval_excludes_zero else "#ffffff"
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
    return "0" if value == 0 else text.replace("-", MINUS)
