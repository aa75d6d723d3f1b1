"""Shared pieces of the webhook tests: settings on a temp folder, a TestClient, a signer."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from starlette.testclient import TestClient

from dagster_project.contracts.eventlog import read_new
from dagster_project.webhooks.app import create_app
from dagster_project.webhooks.config import WebhookSettings, replies_path
from dagster_project.webhooks.replies import load_replies
from dagster_project.webhooks.signatures import compute_signature

SECRET = "test-secret-0123456789abcdef"
TWILIO_TOKEN = "twilio-test-token"
BASE = "http://testserver"


def make_settings(tmp_path: Path, **overrides) -> WebhookSettings:
    values = dict(
        events_dir=tmp_path / "events",
        links_path=tmp_path / "links.jsonl",
        secret=SECRET,
        replies=load_replies(replies_path()),
        twilio_auth_token=TWILIO_TOKEN,
    )
    return WebhookSettings(**(values | overrides))


def client(settings: WebhookSettings) -> TestClient:
    return TestClient(create_app(settings), base_url=BASE, follow_redirects=False)


def events(settings: WebhookSettings) -> list[dict]:
    if not settings.events_dir.exists():
        return []
    lines, _ = read_new(settings.events_dir, {})
    assert all(line.error is None for line in lines), [line.error for line in lines]
    return [line.event for line in lines]


def signed_post(
    c: TestClient,
    path: str,
    form: dict | list,
    *,
    token: str = TWILIO_TOKEN,
    url: str | None = None,
    headers: dict | None = None,
):
    """POST a form the way Twilio does: urlencoded, signed over the full URL."""
    pairs = list(form.items()) if isinstance(form, dict) else list(form)
    signature = compute_signature(token, url or BASE + path, pairs)
    return c.post(
        path,
        content=urlencode(pairs),
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "X-Twilio-Signature": signature, **(headers or {})},
    )  # fmt: skip
