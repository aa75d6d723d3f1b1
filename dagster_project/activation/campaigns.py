"""Campaign files (``campaigns/*.yml`` or ``*.yaml``) and the sending policy, validated on load.

A marketer writes one YAML file per campaign; ``load_campaigns`` turns the folder
into typed ``Campaign`` objects or fails with ``CampaignError`` naming the file
and the field. Filters are structured (field, operator, value) and checked
against the columns of ``dim_customers``: a file never carries SQL.

Pure: no Dagster, no DuckDB. The global policy (frequency caps across
campaigns) lives in ``campaigns/settings/policy.yml``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from dagster_project.activation.send_rules import (
    HARD_WINDOW,
    SendClock,
    SendRules,
    load_send_rules,
)
from dagster_project.lib.yaml_files import read_mapping, validate

# What a filter may test: dim_customers' columns a marketer can reason about, with the
# operators that make sense for their type. Never raw SQL.
FILTER_FIELDS: dict[str, str] = {
    "country": "text",
    "language": "text",
    "age_band": "text",
    "gender": "text",
    "lifecycle_stage": "text",
    "rfm_segment": "text",
    "value_tier": "text",
    "preferred_category": "text",
    "channel_mix": "text",
    "orders_count": "number",
    "in_store_orders_count": "number",
    "online_orders_count": "number",
    "revenue_amount": "number",
    "average_order_value": "number",
    "is_big_spender": "bool",
    "is_vip": "bool",
    "has_open_ticket": "bool",
}
OPERATORS = {
    "text": {"=", "!=", "in", "not in"},
    "number": {"=", "!=", ">", ">=", "<", "<="},
    "bool": {"=", "!="},
}
SEGMENTS = {
    "prospect",
    "new_customer",
    "big_spender",
    "vip",
    "lapsed",
    "at_risk",
    "abandoned_checkout",
    "category_affinity",
    "repeat_purchase_due",
    "open_ticket_exclusion",
    "clicks_never_buys",
}
LANGUAGES = {"en", "de", "tr"}
# The default window; HARD_WINDOW (08:00-21:00) is the compliance rule no file can widen.
DEFAULT_WINDOW = (dt.time(9, 0), dt.time(20, 0))


class CampaignError(ValueError):
    """An invalid campaign or policy file: the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Filter(_Strict):
    field: str
    op: Literal["=", "!=", ">", ">=", "<", "<=", "in", "not in"]
    value: Any

    @model_validator(mode="after")
    def _known_field_and_operator(self) -> Filter:
        kind = FILTER_FIELDS.get(self.field)
        if kind is None:
            raise ValueError(
                f"unknown field {self.field!r}; filters may use {', '.join(sorted(FILTER_FIELDS))}"
            )
        if self.op not in OPERATORS[kind]:
            raise ValueError(f"operator {self.op!r} does not apply to {kind} field {self.field!r}")
        if self.op in ("in", "not in") and not isinstance(self.value, list):
            raise ValueError(f"operator {self.op!r} needs a list value")
        if kind == "number" and not isinstance(self.value, (int, float)):
            raise ValueError(f"{self.field!r} is a number; value {self.value!r} is not")
        if kind == "bool" and not isinstance(self.value, bool):
            raise ValueError(f"{self.field!r} is true/false; value {self.value!r} is not")
        return self


class Exclusions(_Strict):
    segments: list[str] = Field(default_factory=list)
    bought_category_within_days: int | None = Field(
        default=None, ge=1, description="drop whoever bought the promoted category this recently"
    )
    open_ticket: bool = True

    @field_validator("segments")
    @classmethod
    def _known_segments(cls, v: list[str]) -> list[str]:
        return _check_segments(v)


class Variant(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,20}$")
    weight: int = Field(ge=1)
    templates: dict[str, str] | None = None


class Window(_Strict):
    start: dt.time = DEFAULT_WINDOW[0]
    end: dt.time = DEFAULT_WINDOW[1]

    @model_validator(mode="after")
    def _inside_hard_window(self) -> Window:
        lo, hi = HARD_WINDOW
        if not (lo <= self.start < self.end <= hi):
            raise ValueError(
                f"send window {self.start:%H:%M}-{self.end:%H:%M} must lie within "
                f"{lo:%H:%M}-{hi:%H:%M} recipient local time, start before end"
            )
        return self

    @property
    def bounds(self) -> tuple[dt.time, dt.time]:
        return self.start, self.end


class Cap(_Strict):
    max: int = Field(ge=1)
    per_days: int = Field(ge=1)


class Campaign(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,48}$")
    name: str
    kind: Literal["marketing", "transactional"] = "marketing"
    segments: list[str] = Field(min_length=1)
    exclusions: Exclusions = Field(default_factory=Exclusions)
    filters: list[Filter] = Field(default_factory=list)
    promoted_category: str | None = None
    templates: dict[str, str] = Field(min_length=1)
    fallback_language: str = "en"
    variants: list[Variant] = Field(default_factory=lambda: [Variant(id="A", weight=1)])
    holdout_percent: float = Field(default=10, ge=0, le=50)
    send_window: Window = Field(default_factory=Window)
    start_date: dt.date
    end_date: dt.date | None = None
    cadence: Literal["once", "daily", "segment_entry"] = "once"
    entry_within_days: int = Field(default=2, ge=1, description="segment_entry: how recent")
    priority: int = Field(default=0, ge=0, le=100)
    cap: Cap | None = Field(default=None, description="this campaign's own per-person cap")
    sender_ids: dict[str, str] = Field(min_length=1)
    budget_usd: float | None = Field(default=None, gt=0)
    link_base_url: str = "https://sms.example"  # the webhook host; links become <this>/c/<token>
    source: str = Field(default="", exclude=True)

    @field_validator("segments")
    @classmethod
    def _known_segments(cls, v: list[str]) -> list[str]:
        return _check_segments(v)

    @field_validator("templates")
    @classmethod
    def _known_languages(cls, v: dict[str, str]) -> dict[str, str]:
        return check_languages(v)

    @field_validator("sender_ids")
    @classmethod
    def _sender_keys(cls, v: dict[str, str]) -> dict[str, str]:
        bad = [k for k in v if k != "default" and not re.fullmatch(r"[A-Z]{2}", k)]
        if bad:
            raise ValueError(f"keys must be ISO country codes or 'default', found {bad}")
        if "default" not in v:
            raise ValueError("needs a 'default' sender id for countries not listed")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Campaign:
        if self.fallback_language not in self.templates:
            raise ValueError(
                f"fallback_language {self.fallback_language!r} has no template "
                f"(templates: {sorted(self.templates)})"
            )
        if self.end_date and self.end_date < self.start_date:
            raise ValueError("end_date is before start_date")
        if len({v.id for v in self.variants}) != len(self.variants):
            raise ValueError("variant ids must be unique")
        for v in self.variants:
            if v.templates and self.fallback_language not in v.templates:
                raise ValueError(f"variant {v.id!r} lacks the fallback language's template")
        if self.exclusions.bought_category_within_days and not self.promoted_category:
            raise ValueError("exclusions.bought_category_within_days needs promoted_category")
        return self

    def is_active(self, day: dt.date) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)

    def templates_for(self, variant: str) -> dict[str, str]:
        v = next(x for x in self.variants if x.id == variant)
        return v.templates or self.templates

    def sender_for(self, country: str | None) -> str:
        return self.sender_ids.get(country or "", self.sender_ids["default"])


class Policy(_Strict):
    """The sending policy: caps across campaigns (marketing messages, per person) and the
    regional send rules (``campaigns/settings/send_rules.yml``)."""

    marketing_per_day: int = Field(default=1, ge=1)
    marketing_per_week: int = Field(default=3, ge=1)
    send_rules: SendRules = Field(default_factory=SendRules, exclude=True)
    _clock: SendClock | None = PrivateAttr(default=None)

    @property
    def clock(self) -> SendClock:
        """One clock per policy, so a plan computes each recipient shape's hours once."""
        if self._clock is None:
            self._clock = SendClock(self.send_rules)
        return self._clock


def check_languages(templates: dict[str, str]) -> dict[str, str]:
    """Templates keyed by supported languages only (the greetings and footers exist)."""
    unknown = set(templates) - LANGUAGES
    if unknown:
        raise ValueError(f"unknown language(s) {sorted(unknown)}; supported: {sorted(LANGUAGES)}")
    return templates


def _check_segments(v: list[str]) -> list[str]:
    unknown = sorted(set(v) - SEGMENTS)
    if unknown:
        raise ValueError(f"unknown segment(s) {unknown}; known: {', '.join(sorted(SEGMENTS))}")
    return v


def _read_yaml(path: Path) -> dict:
    return read_mapping(path, CampaignError, "a campaign file is a YAML mapping of fields")


def _validate(model: type[BaseModel], data: dict, path: Path):
    return validate(model, data, path, CampaignError)


def load_campaign(path: Path, validate_template=None) -> Campaign:
    """One campaign file; ``validate_template(text)`` checks each template if given."""
    data = _read_yaml(path)
    campaign = _validate(Campaign, {**data, "source": str(path)}, path)
    if campaign.id != path.stem:
        raise CampaignError(f"{path}: field id: must be the file name {path.stem!r}")
    if validate_template is not None:
        sets = [("templates", campaign.templates)] + [
            (f"variants[{i}].templates", v.templates)
            for i, v in enumerate(campaign.variants)
            if v.templates
        ]
        for where, templates in sets:
            for language, text in templates.items():
                try:
                    validate_template(text)
                except Exception as exc:  # noqa: BLE001 - any template error names the field
                    raise CampaignError(f"{path}: field {where}.{language}: {exc}") from exc
    return campaign


# A campaign file is <id>.yml or <id>.yaml.
CAMPAIGN_SUFFIXES = (".yml", ".yaml")


def campaign_files(folder: Path) -> list[Path]:
    """The campaign files directly in ``folder``; one id in two files is refused, naming both."""
    files, broken = _campaign_files(folder)
    if broken:
        raise CampaignError(broken[0].error)
    return files


def _campaign_files(folder: Path) -> tuple[list[Path], list[BrokenFile]]:
    """The campaign files, and those refused because another file has the same id.

    Neither file of a doubled id is trusted: which one the marketer meant is unknown.
    """
    files = sorted(p for suffix in CAMPAIGN_SUFFIXES for p in folder.glob(f"*{suffix}"))
    by_id: dict[str, list[Path]] = {}
    for path in files:
        by_id.setdefault(path.stem, []).append(path)
    broken = [
        BrokenFile(
            path,
            f"{path}: campaign {path.stem!r} is also defined by "
            f"{' and '.join(str(q) for q in paths if q != path)}; keep one of the files",
        )
        for paths in by_id.values()
        if len(paths) > 1
        for path in paths
    ]
    return [p for p in files if len(by_id[p.stem]) == 1], broken


@dataclass(frozen=True)
class BrokenFile:
    """A campaign file that did not load, with the error naming file and field."""

    path: Path
    error: str

    @property
    def id(self) -> str:
        return self.path.stem


def scan_campaigns(folder: Path, validate_template=None) -> tuple[list[Campaign], list[BrokenFile]]:
    """Every campaign file in ``folder``: the valid ones sorted by priority (highest first),
    then id, and the broken ones with their errors. One broken file never hides the others."""
    files, broken = _campaign_files(folder)
    campaigns = []
    for path in files:
        try:
            campaigns.append(load_campaign(path, validate_template))
        except CampaignError as exc:
            broken.append(BrokenFile(path, str(exc)))
    return sorted(campaigns, key=lambda c: (-c.priority, c.id)), sorted(
        broken, key=lambda b: b.path
    )


def load_campaigns(folder: Path, validate_template=None) -> list[Campaign]:
    """Every campaign file in ``folder``, sorted by priority (highest first), then id;
    the first broken file raises its ``CampaignError``."""
    campaigns, broken = scan_campaigns(folder, validate_template)
    if broken:
        raise CampaignError(broken[0].error)
    return campaigns


def load_policy(path: Path) -> Policy:
    """``policy.yml`` and, beside it, ``send_rules.yml`` (either may be absent)."""
    rules = load_send_rules(path.parent / "send_rules.yml")
    data = _read_yaml(path) if path.exists() else {}
    return _validate(Policy, {**data, "send_rules": rules}, path)
