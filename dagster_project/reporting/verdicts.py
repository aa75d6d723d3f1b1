"""What the report concludes about a campaign against its holdout, and how it says it.

Pure: plain values in (one row of ``marts.mart_campaign_performance`` as a mapping),
a ``Verdict`` out. A campaign is judged by two figures together:

- the **conversion lift**: treated share who bought minus the holdout's, with its 95%
  interval (from the mart);
- the **sign of incremental revenue**: what the treated spent in their windows beyond
  what the holdout's revenue per recipient predicts.

"positive" needs both: more buyers (the interval above zero) *and* more revenue. More
buyers with less revenue (a discount that pulled in smaller baskets, say) is its own
verdict, never "positive". Before any of that, both groups need ``min_per_arm``
recipients: below it a campaign is "too small to judge", however large its lift
looks (Klaviyo declares no A/B winner under 500 recipients per variant; so does this).

A recipient is one lift unit of the mart: one customer on one plan day (the mart's
``treated_customers`` counts sent messages, ``holdout_customers`` held-out rows), so a
customer messaged on two days counts twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .formats import MINUS, fmt_count, fmt_interval, fmt_pct, fmt_pts, fmt_usd, number, plural

# Klaviyo's minimum for an A/B test: 500 recipients per variant.
DEFAULT_MIN_PER_ARM = 500
# Under this SMS cost a ROAS is a ratio over pennies: the page says so beside it.
DEFAULT_TINY_COST_USD = 10.0


@dataclass(frozen=True)
class Rules:
    """The settings the page judges by; every one of them is printed on the page."""

    min_per_arm: int = DEFAULT_MIN_PER_ARM
    # Days after a message within which a purchase counts for the lift (dbt var
    # attribution_days_after_delivery); None: the page says "the attribution window".
    window_days: int | None = None
    tiny_cost_usd: float = DEFAULT_TINY_COST_USD

    def __post_init__(self) -> None:
        if isinstance(self.min_per_arm, bool) or not isinstance(self.min_per_arm, int):
            raise ValueError(f"min_per_arm must be a whole number, not {self.min_per_arm!r}")
        if self.min_per_arm < 1:
            raise ValueError(f"min_per_arm must be at least 1, not {self.min_per_arm}")
        if self.window_days is not None and self.window_days < 1:
            raise ValueError(f"window_days must be at least 1, not {self.window_days}")

    @property
    def window(self) -> str:
        """``within 5 days`` (of the message), or the generic phrase."""
        if self.window_days is None:
            return "within the attribution window"
        return f"within {plural(self.window_days, 'day')}"


# kind -> (badge text, tone); the tone picks the badge colour.
KINDS = {
    "positive": ("positive", "good"),
    "negative": ("negative", "bad"),
    "more-buyers-less-revenue": ("more buyers, less revenue", "mixed"),
    "more-buyers-no-revenue": ("more buyers, no extra revenue", "mixed"),
    "fewer-buyers-more-revenue": ("fewer buyers, more revenue", "mixed"),
    "inconclusive": ("inconclusive", "none"),
    "too-small": ("too small to judge", "none"),
    "no-estimate": ("no estimate", "none"),
}


@dataclass(frozen=True)
class Verdict:
    kind: str
    explanation: str  # one line, printed beside the badge

    @property
    def label(self) -> str:
        return KINDS[self.kind][0]

    @property
    def tone(self) -> str:
        return KINDS[self.kind][1]

    @property
    def judged(self) -> bool:
        """The lift is worth plotting: enough recipients in both groups."""
        return self.kind not in ("too-small", "no-estimate")

    @property
    def interval_excludes_zero(self) -> bool:
        return self.tone in ("good", "bad", "mixed")


def about_usd(value: float) -> str:
    """Incremental revenue in a sentence: whole dollars, cents under a dollar. A word
    joiner keeps a minus sign on the line of its amount."""
    return fmt_usd(value, whole=abs(value) >= 1).replace(MINUS, MINUS + "\u2060")


def bought(converters, units, who: str, rules: Rules) -> str:
    """``3 of 7 treated recipients bought within 5 days (42.9%)``."""
    n = number(units)
    share = f" ({fmt_pct(number(converters) / n)})" if n and number(converters) is not None else ""
    noun = "recipient" if n == 1 else "recipients"
    return (
        f"{fmt_count(converters)} of {fmt_count(units)} {who} {noun} bought {rules.window}{share}"
    )


def judge(values: Mapping[str, float | None], rules: Rules = Rules()) -> Verdict:
    """The verdict on one row of the mart (values already through ``number``)."""
    lift, low, high = (values.get(c) for c in ("lift_abs", "lift_abs_ci_low", "lift_abs_ci_high"))
    treated, held = values.get("treated_customers") or 0, values.get("holdout_customers") or 0
    money = values.get("incremental_revenue")
    interval = "" if low is None or high is None else f" (95% CI {fmt_interval(low, high)})"
    observed = f"{fmt_pts(lift)} conversion vs holdout{interval}"

    if lift is None:
        if not held:
            return Verdict("no-estimate", "no held-out recipients to compare with.")
        return Verdict("no-estimate", "no treated recipients yet to compare with the holdout.")
    if min(treated, held) < rules.min_per_arm:
        return Verdict(
            "too-small",
            f"only {plural(treated, 'treated recipient')} and "
            f"{plural(held, 'held-out recipient')}, "
            f"under the {fmt_count(rules.min_per_arm)} per group needed to judge; "
            f"the observed {observed} is not a result.",
        )
    if low is None or high is None:
        return Verdict(
            "inconclusive", f"{observed}, but no confidence interval: it cannot be told from zero."
        )
    if low <= 0 <= high:
        return Verdict(
            "inconclusive",
            f"the 95% interval of the conversion lift includes zero ({observed}): "
            "no measurable effect on buying.",
        )
    if money is None:
        return Verdict(
            "inconclusive",
            f"{observed}, but incremental revenue could not be computed: no verdict on revenue.",
        )
    revenue = f"about {about_usd(money)} incremental revenue"
    if low > 0:
        if money > 0:
            return Verdict(
                "positive", f"more buyers and more revenue than the holdout: {observed}, {revenue}."
            )
        if money < 0:
            return Verdict(
                "more-buyers-less-revenue",
                f"more buyers, but they spent less than the holdout predicts: {observed}, "
                f"{revenue}. Not a win: check the offer and basket sizes.",
            )
        return Verdict(
            "more-buyers-no-revenue", f"more buyers but no extra revenue: {observed}, {revenue}."
        )
    if money > 0:
        return Verdict(
            "fewer-buyers-more-revenue",
            f"fewer buyers than the holdout, but more revenue: {observed}, {revenue}.",
        )
    return Verdict(
        "negative", f"fewer buyers and no more revenue than the holdout: {observed}, {revenue}."
    )
