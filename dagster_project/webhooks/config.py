"""The receiver's settings, read once from the environment (``docs/outcomes.md``)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dagster_project import settings
from dagster_project.contracts import tracked_links, webhook_urls
from dagster_project.contracts.eventlog import events_dir

from .replies import Replies, load_replies

MAX_BODY_BYTES = 64 * 1024  # a provider callback is a few hundred bytes


def replies_path() -> Path:
    return settings.campaigns_dir() / "settings" / "replies.yml"


@dataclass(frozen=True)
class WebhookSettings:
    events_dir: Path
    links_path: Path
    secret: str
    replies: Replies
    twilio_auth_token: str | None = field(default=None, repr=False)
    public_url: str | None = None  # SMS_WEBHOOK_PUBLIC_URL, no trailing slash
    max_body_bytes: int = MAX_BODY_BYTES

    def __post_init__(self) -> None:
        if len(self.secret) < 16:
            raise ValueError("the webhook secret must be at least 16 characters")

    def __repr__(self) -> str:  # never print the secret
        return (
            f"WebhookSettings(events_dir={self.events_dir}, links_path={self.links_path}, "
            f"twilio={'on' if self.twilio_auth_token else 'off'}, public_url={self.public_url})"
        )

    @classmethod
    def from_env(cls) -> WebhookSettings:
        return cls(
            events_dir=events_dir(),
            links_path=tracked_links.registry_path(),
            secret=webhook_urls.webhook_secret(),
            replies=load_replies(replies_path()),
            twilio_auth_token=os.environ.get("TWILIO_AUTH_TOKEN") or None,
            public_url=webhook_urls.public_url(),
        )
