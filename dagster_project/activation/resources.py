"""The campaigns resource: campaign and journey files, the sending policy and prices, read
once per run.

Plans and the dispatch of one run see the same files: the resource reads the
folder when the run starts and hands every step the same ``CampaignBook``. A
broken campaign file is kept with its error instead of raising, so it fails the
steps of that campaign only; a broken policy or price file fails every step that
plans or sends (nothing may go out under rules nobody can read).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dagster import ConfigurableResource, InitResourceContext
from pydantic import Field, PrivateAttr

from dagster_project import settings
from dagster_project.activation.campaigns import (
    BrokenFile,
    Campaign,
    CampaignError,
    Policy,
    load_policy,
    scan_campaigns,
)
from dagster_project.activation.pricing import Prices, load_prices


def validate_template(text: str) -> None:
    from dagster_project.activation.messages import validate_template as validate

    validate(text)


def scan(folder: Path) -> tuple[list[Campaign], list[BrokenFile]]:
    """The folder's campaigns (priority order) and its broken files, templates checked."""
    return scan_campaigns(folder, validate_template)


@dataclass(frozen=True)
class CampaignBook:
    """What one run reads from the campaigns folder."""

    folder: Path
    campaigns: tuple[Campaign, ...]
    broken: tuple[BrokenFile, ...]
    policy: Policy
    prices: Prices
    journeys: tuple = ()  # journeys.spec.Journey, highest priority first
    broken_journeys: tuple[BrokenFile, ...] = ()

    @property
    def by_id(self) -> dict[str, Campaign]:
        return {c.id: c for c in self.campaigns}

    @property
    def programs(self) -> dict:
        """Campaigns and journeys by id: what a ledger row's ``campaign_id`` may name (the
        dispatch re-checks each message against its program's window)."""
        return {**self.by_id, **{j.id: j for j in self.journeys}}

    def get(self, campaign_id: str) -> Campaign:
        """The campaign, or ``CampaignError`` saying why there is none (file broken or gone)."""
        found = self.by_id.get(campaign_id)
        if found is not None:
            return found
        for b in self.broken:
            if b.id == campaign_id:
                raise CampaignError(b.error)
        raise CampaignError(
            f"{self.folder}: no campaign file {campaign_id!r} (removed or renamed?); "
            "reload the code location"
        )


def validate_journey_template(text: str, extra_tokens: frozenset[str]) -> None:
    from dagster_project.activation.messages import validate_template as validate

    validate(text, extra_tokens=extra_tokens)


def read_book(folder: Path, journeys_folder: Path | None = None) -> CampaignBook:
    from dagster_project.journeys.spec import scan_journeys

    campaigns, broken = scan(folder)
    journeys, broken_journeys = scan_journeys(
        journeys_folder or settings.journeys_dir(),
        validate_journey_template,
        frozenset(c.id for c in campaigns) | frozenset(b.id for b in broken),
    )
    return CampaignBook(
        folder=folder,
        campaigns=tuple(campaigns),
        broken=tuple(broken),
        policy=load_policy(folder / "settings" / "policy.yml"),
        prices=load_prices(folder / "pricing" / "sms.yml"),
        journeys=tuple(journeys),
        broken_journeys=tuple(broken_journeys),
    )


class CampaignsResource(ConfigurableResource):
    """The campaign files, policy and prices, read once when a run starts."""

    folder: str = Field(
        default="",
        description="Folder of campaign files (default: SMS_CAMPAIGNS_DIR, else campaigns/).",
    )
    journeys_folder: str = Field(
        default="",
        description="Folder of journey files (default: SMS_JOURNEYS_DIR, else journeys/).",
    )
    _book: CampaignBook | None = PrivateAttr(default=None)

    def path(self) -> Path:
        return Path(self.folder).resolve() if self.folder else settings.campaigns_dir()

    def journeys_path(self) -> Path:
        return (
            Path(self.journeys_folder).resolve()
            if self.journeys_folder
            else settings.journeys_dir()
        )

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._book = read_book(self.path(), self.journeys_path())

    @property
    def book(self) -> CampaignBook:
        if self._book is None:  # used outside a run (a test, the preview)
            self._book = read_book(self.path(), self.journeys_path())
        return self._book
