"""The campaigns resource: campaign files, the sending policy and prices, read once per run.

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

    @property
    def by_id(self) -> dict[str, Campaign]:
        return {c.id: c for c in self.campaigns}

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


def read_book(folder: Path) -> CampaignBook:
    campaigns, broken = scan(folder)
    return CampaignBook(
        folder=folder,
        campaigns=tuple(campaigns),
        broken=tuple(broken),
        policy=load_policy(folder / "settings" / "policy.yml"),
        prices=load_prices(folder / "pricing" / "sms.yml"),
    )


class CampaignsResource(ConfigurableResource):
    """The campaign files, policy and prices, read once when a run starts."""

    folder: str = Field(
        default="",
        description="Folder of campaign files (default: SMS_CAMPAIGNS_DIR, else campaigns/).",
    )
    _book: CampaignBook | None = PrivateAttr(default=None)

    def path(self) -> Path:
        return Path(self.folder).resolve() if self.folder else settings.campaigns_dir()

    def setup_for_execution(self, context: InitResourceContext) -> None:
        self._book = read_book(self.path())

    @property
    def book(self) -> CampaignBook:
        if self._book is None:  # used outside a run (a test, the preview)
            self._book = read_book(self.path())
        return self._book
