"""``GatewayResource``: the Dagster resource that picks an adapter and sends a batch.

``kind`` chooses the provider: ``sandbox`` (default; files under
``$SMS_DATA_DIR/sandbox_gateway``), ``kannel`` (an smsbox's sendsms URL) or
``twilio``. Secrets come from the environment only: wire them with
``dagster.EnvVar`` (``gateway_from_env`` does), never literals in code or YAML.

``send`` is synchronous for Dagster assets: one ``httpx.AsyncClient`` per call,
shared by every request of the batch, run on a fresh event loop (``run_async``:
uvloop where it is installed). Under the client,
``transport`` picks the connection layer: aiohttp's (default, several times less
CPU per request) or httpx's own httpcore pools (see ``transport.py``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import httpx
from dagster import ConfigurableResource, EnvVar
from pydantic import Field

from dagster_project import settings
from dagster_project.contracts import webhook_urls

from .kannel import DLR_ALL, KannelAdapter
from .sandbox import SandboxAdapter
from .sender import send_all
from .transport import AiohttpTransport, GatewayClient, ShardedTransport
from .twilio import TWILIO_API, TwilioAdapter
from .types import GatewayAdapter, OutboundMessage, SendResult

T = TypeVar("T")
KINDS = ("sandbox", "kannel", "twilio")
TRANSPORTS = ("aiohttp", "httpcore")


class GatewayResource(ConfigurableResource):
    """Sends batches of ``OutboundMessage`` through one SMS provider."""

    kind: str = Field(default="sandbox", description="sandbox | kannel | twilio")
    rate_per_second: float = Field(
        default=100.0,
        description="messages per second per sender id (1 long code, 3 toll-free, 100 short code)",
    )
    sender_rates: dict[str, float] = Field(
        default_factory=dict, description="per sender id overrides of rate_per_second"
    )
    concurrency: int = Field(default=32, description="requests in flight at most")
    transport: str = Field(
        default="aiohttp",
        description="connection layer under the httpx client: aiohttp | httpcore",
    )
    max_attempts: int = 5
    base_backoff: float = 0.5
    max_backoff: float = 30.0
    timeout_seconds: float = Field(default=10.0, description="per request (connect, read, write)")
    # sandbox
    outbox_dir: str | None = Field(
        default=None, description="default $SMS_DATA_DIR/sandbox_gateway"
    )
    seed: int = Field(default=0, description="seed of the sandbox's simulated receipts")
    # kannel
    sendsms_url: str = "http://127.0.0.1:13013/cgi-bin/sendsms"
    username: str | None = Field(default=None, description="sendsms-user (use EnvVar)")
    password: str | None = Field(default=None, description="sendsms-user password (use EnvVar)")
    dlr_url: str | None = Field(
        default=None,
        description="where Kannel posts delivery reports; unset: the webhook receiver "
        "(SMS_WEBHOOK_PUBLIC_URL or 127.0.0.1:8088, /kannel/dlr/<secret>); empty: none",
    )
    dlr_mask: int = DLR_ALL
    smsc: str | None = None
    # twilio
    account_sid: str | None = Field(default=None, description="default: $TWILIO_ACCOUNT_SID")
    auth_token: str | None = Field(default=None, description="default: $TWILIO_AUTH_TOKEN")
    base_url: str = TWILIO_API
    status_callback_url: str | None = None
    messaging_service_sid: str | None = None

    def adapter(self) -> GatewayAdapter:
        if self.kind == "sandbox":
            directory = self.outbox_dir or settings.data_dir() / "sandbox_gateway"
            return SandboxAdapter(Path(directory), seed=self.seed)
        if self.kind == "kannel":
            return KannelAdapter(
                sendsms_url=self.sendsms_url,
                username=self.username or os.environ.get("KANNEL_USERNAME", ""),
                password=self.password or os.environ.get("KANNEL_PASSWORD", ""),
                dlr_url=self.dlr_url if self.dlr_url is not None else webhook_urls.kannel_dlr_url(),
                dlr_mask=self.dlr_mask,
                smsc=self.smsc,
            )
        if self.kind == "twilio":
            return TwilioAdapter(
                account_sid=self.account_sid or os.environ.get("TWILIO_ACCOUNT_SID", ""),
                auth_token=self.auth_token or os.environ.get("TWILIO_AUTH_TOKEN", ""),
                base_url=self.base_url,
                status_callback_url=self.status_callback_url,
                messaging_service_sid=self.messaging_service_sid,
            )
        raise ValueError(f"unknown gateway kind {self.kind!r}; choose from {', '.join(KINDS)}")

    def client(self, adapter: GatewayAdapter) -> httpx.AsyncClient:
        """One client for a batch; the sandbox's transport when the adapter has one."""
        if hasattr(adapter, "transport"):
            transport = adapter.transport()
        elif self.transport == "aiohttp":
            transport = AiohttpTransport(self.concurrency)
        elif self.transport == "httpcore":
            transport = ShardedTransport(self.concurrency)
        else:
            raise ValueError(
                f"unknown transport {self.transport!r}; choose from {', '.join(TRANSPORTS)}"
            )
        return GatewayClient(
            transport=transport,
            timeout=httpx.Timeout(self.timeout_seconds),
            follow_redirects=False,
            trust_env=False,  # no proxy from the environment: only the configured gateway
        )

    async def asend(
        self,
        messages: Sequence[OutboundMessage],
        *,
        bucket_factory=None,
        adapter: GatewayAdapter | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> list[SendResult]:
        """``send`` inside a running event loop. With ``adapter`` and ``client`` (from
        ``client(adapter)``), batch after batch goes over the same connections."""
        adapter = adapter or self.adapter()
        if client is None:
            async with self.client(adapter) as own:
                return await self.asend(
                    messages, bucket_factory=bucket_factory, adapter=adapter, client=own
                )
        return await send_all(
            adapter,
            messages,
            client=client,
            rate_per_second=self.rate_per_second,
            sender_rates=self.sender_rates,
            concurrency=self.concurrency,
            max_attempts=self.max_attempts,
            base_backoff=self.base_backoff,
            max_backoff=self.max_backoff,
            bucket_factory=bucket_factory,
        )

    def send(self, messages: Sequence[OutboundMessage], *, bucket_factory=None) -> list[SendResult]:
        """Send a batch; one final ``SendResult`` per message, in input order.
        ``bucket_factory(sender, rate, burst)``: each sender's rate limiter, when it is
        shared with other processes (``opstore.rate``)."""
        if not messages:
            return []
        return run_async(self.asend(messages, bucket_factory=bucket_factory))

    @property
    def honours_idempotency_key(self) -> bool:
        return bool(self.adapter().honours_idempotency_key)


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on uvloop when it is installed (not on Windows), else asyncio's loop.

    The sender's loop turns over several callbacks per message; uvloop's C loop
    took 0-20% (6% on average) off the CPU per message here (bench/README.md, "Dispatch").
    """
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is declared for every platform but Windows
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def gateway_from_env() -> GatewayResource:
    """The resource as the environment configures it (``SMS_GATEWAY``, default sandbox).

    ``SMS_GATEWAY=kannel``: ``KANNEL_SENDSMS_URL``, ``KANNEL_USERNAME``,
    ``KANNEL_PASSWORD``, optional ``KANNEL_DLR_URL`` (unset: the webhook receiver's
    ``/kannel/dlr/<secret>``; set empty: no delivery reports). ``SMS_GATEWAY=twilio``:
    ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``, optional
    ``TWILIO_STATUS_CALLBACK_URL``, ``TWILIO_MESSAGING_SERVICE_SID`` and
    ``TWILIO_API_BASE_URL`` (a regional edge such as ``https://api.dublin.ie1.twilio.com``).
    ``SMS_GATEWAY_RATE`` sets messages per second per sender (default 100).
    Secrets are ``EnvVar``s, so Dagster shows their names, never their values.
    """
    kind = os.environ.get("SMS_GATEWAY", "sandbox").lower()
    rate = float(os.environ.get("SMS_GATEWAY_RATE", "100"))
    if kind == "kannel":
        return GatewayResource(
            kind=kind,
            rate_per_second=rate,
            sendsms_url=os.environ.get(
                "KANNEL_SENDSMS_URL", "http://127.0.0.1:13013/cgi-bin/sendsms"
            ),
            username=EnvVar("KANNEL_USERNAME"),
            password=EnvVar("KANNEL_PASSWORD"),
            dlr_url=os.environ.get("KANNEL_DLR_URL"),
        )
    if kind == "twilio":
        return GatewayResource(
            kind=kind,
            rate_per_second=rate,
            account_sid=EnvVar("TWILIO_ACCOUNT_SID"),
            auth_token=EnvVar("TWILIO_AUTH_TOKEN"),
            base_url=os.environ.get("TWILIO_API_BASE_URL", TWILIO_API),
            status_callback_url=os.environ.get("TWILIO_STATUS_CALLBACK_URL"),
            messaging_service_sid=os.environ.get("TWILIO_MESSAGING_SERVICE_SID"),
        )
    return GatewayResource(kind="sandbox", rate_per_second=rate)
