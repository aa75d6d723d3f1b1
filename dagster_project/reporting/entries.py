"""The page's rows: one ``Entry`` per campaign and variant of the mart, with its verdict
and every figure the page prints, each with its unit and denominator in words.

Pure: a DataFrame in, entries out. The mart's columns are those of
``marts.mart_campaign_performance`` (``mart_segment_performance`` has the same measures).

Two different things are called "conversions" and the page never mixes them:
**orders attributed** (``conversions``: orders credited to a message by last touch or
discount code; a customer can place several) and **recipients who bought** within the
lift window (``treated_converters`` / ``holdout_converters``: a recipient counts once,
whatever bought it). The first is never shown as a share of messages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import pandas as pd
from markupsafe import Markup

from .formats import day as fmt_day
from .formats import fmt_count, fmt_ratio, fmt_share, fmt_usd, number, plural
from .verdicts import Rules, Verdict, bought, judge

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

# The one definition of each message rate on the page: (numerator, denominator, noun).
# The mart's delivery_rate, click_rate and opt_out_rate are these same quotients.
RATES = {
    "delivery": ("delivered", "sent", "sent"),
    "click": ("clicked_messages", "delivered", "delivered"),
    "opt-out": ("opt_outs", "delivered", "delivered"),
}


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
    verdict: Verdict
    rules: Rules
    charts: dict[str, Markup] = field(default_factory=dict)

    @property
    def has_variant(self) -> bool:
        return self.variant != NO_VARIANT

    def get(self, column: str) -> float | None:
        return self.values.get(column)

    @property
    def sentence(self) -> str:
        """The verdict in one sentence (chart titles, screen readers)."""
        return f"{self.label}: {self.verdict.label}: {self.verdict.explanation}"

    # -- message rates: one definition each, always with its denominator

    def rate(self, name: str) -> str:
        """``11.1%`` (clicked messages / delivered messages), a dash without a denominator."""
        part, whole, _ = RATES[name]
        return fmt_share(self.get(part), self.get(whole))

    def rate_of(self, name: str) -> str:
        """``520 of 4,700 delivered``: what the rate is a share of."""
        part, whole, noun = RATES[name]
        return f"{fmt_count(self.get(part))} of {fmt_count(self.get(whole))} {noun}"

    # -- the experiment

    def bought(self, arm: str) -> str:
        """``3 of 7 treated recipients bought within 5 days (42.9%)``."""
        who = "treated" if arm == "treated" else "held-out"
        return bought(self.get(f"{arm}_converters"), self.get(f"{arm}_customers"), who, self.rules)

    def per_recipient(self, arm: str) -> str:
        units = self.get(f"{arm}_customers")
        revenue = self.get(f"{arm}_revenue")
        return fmt_usd(revenue / units) if units and revenue is not None else fmt_usd(None)

    # -- orders and money

    @property
    def orders(self) -> str:
        """``5 orders attributed``: a count of orders, never a share of messages."""
        return f"{plural(self.get('conversions'), 'order')} attributed"

    @property
    def roas_parts(self) -> str:
        """``$15,400 attributed revenue ÷ $392.00 SMS cost``."""
        revenue, cost = fmt_usd(self.get("revenue")), fmt_usd(self.get("cost_usd"))
        return f"{revenue} attributed revenue \u00f7 {cost} SMS cost"

    @property
    def roas(self) -> str:
        return fmt_ratio(self.get("roas"))

    @property
    def tiny_cost(self) -> bool:
        cost = self.get("cost_usd")
        return cost is not None and cost < self.rules.tiny_cost_usd and self.get("roas") is not None

    @property
    def roas_note(self) -> str:
        """Why a ROAS over a tiny cost says little; empty when the cost is not tiny."""
        if not self.tiny_cost:
            return ""
        return (
            f"The SMS cost is tiny ({fmt_usd(self.get('cost_usd'))} for "
            f"{plural(self.get('sent'), 'message')}, under {fmt_usd(self.rules.tiny_cost_usd)}), "
            f"so ROAS {self.roas} mostly shows how cheap the messages were; it counts orders "
            "that may have happened anyway. Incremental revenue vs the holdout says what the "
            "campaign earned."
        )


def build_entries(
    frame: pd.DataFrame, names: Mapping[str, str] | None = None, rules: Rules | None = None
) -> list[Entry]:
    """The page's rows, sorted by campaign and variant; raises on a missing column."""
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise ValueError("the campaign performance frame lacks column(s) " + ", ".join(missing))
    names, rules = names or {}, rules or Rules()
    rows = frame.sort_values(["campaign_id", "variant"], key=lambda s: s.astype(str))
    entries = []
    for i, row in enumerate(rows.to_dict("records")):
        campaign_id = "" if row["campaign_id"] is None else str(row["campaign_id"])
        variant = row["variant"]
        variant = NO_VARIANT if variant is None or pd.isna(variant) else str(variant)
        name = names.get(campaign_id, campaign_id)
        label = name if variant == NO_VARIANT else f"{name} (variant {variant})"
        values = {c: number(row[c]) for c in NUMERIC}
        first, last = fmt_day(row["first_plan_day"]), fmt_day(row["last_plan_day"])
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
                verdict=judge(values, rules),
                rules=rules,
            )
        )
    return entries
