"""Kannel's ``sendsms`` HTTP interface (smsbox, ``/cgi-bin/sendsms``).

One GET per message with ``username``, ``password`` (a ``sendsms-user`` of the
smsbox), ``from``, ``to``, ``text`` in UTF-8 (``charset=UTF-8``), ``coding=2``
when the text needs UCS-2 (a single character outside GSM 03.38 switches the
whole message), ``dlr-mask`` and ``dlr-url``.

The ``dlr-url`` carries the idempotency key, so a delivery report is matched to
its ledger row: ``<dlr_url>?key=<key>&status=%d&answer=%A&at=%T&smsc_id=%F``
(the key escaped by ``dagster_project.contracts.kannel_keys``, which the receiver reverses;
Kannel fills the ``%`` escapes: ``%d`` the report type 1 delivered, 2
undelivered, 4 queued, 8 accepted by the SMSC, 16 rejected by the SMSC;
``%A`` the SMSC's answer; ``%T`` a Unix time; ``%F`` the SMSC's message id).
``dlr_mask`` defaults to 31 (all five types). ``validity`` (minutes, Kannel's
granularity) is the time left in the recipient's window, so the SMSC drops a
message it could not deliver in time instead of delivering it in the night; with
less than a minute left the message is not sent (``min_validity_s``).

smsbox answers ``202`` with ``0: Accepted for delivery`` or ``3: Queued for
later delivery``; errors are 4xx (bad request, authorization failed: permanent)
or 5xx (bearerbox unreachable, queue full: retried). Kannel has no idempotency
key and returns no message id on submit: ``honours_idempotency_key = False``.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from dagster_project.contracts.kannel_keys import quote_dlr_key as _quote
from dagster_project.contracts.kannel_keys import unquote_dlr_key as unquote_dlr_key

from .retry import parse_retry_after
from .types import ACCEPTED, FAILED, OutboundMessage, RetryLater, SendResult

# GSM 03.38 default alphabet and its extension table (escape + char, two septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")

# Kannel's DLR report types (dlr-mask bits).
DLR_ALL = 31


def needs_ucs2(text: str) -> bool:
    """True when any character is outside GSM-7 (basic table or extension)."""
    return any(c not in GSM7_BASIC and c not in GSM7_EXTENSION for c in text)


@dataclass
class KannelAdapter:
    sendsms_url: str
    username: str
    password: str
    dlr_url: str | None = None
    dlr_mask: int = DLR_ALL
    smsc: str | None = None  # route to one SMSC (Kannel's smsc-id), if set
    name: str = "kannel"
    honours_idempotency_key: bool = False
    min_validity_s: int = 60  # validity is whole minutes

    def __post_init__(self) -> None:
        if not self.username or not self.password:
            raise ValueError("Kannel needs a sendsms-user's username and password")
        self._url = httpx.URL(self.sendsms_url)  # parsed once, not per message

    def dlr_url_for(self, key: str) -> str:
        # Built by hand: httpx would percent-encode the % escapes Kannel must see.
        base = self.dlr_url or ""
        sep = "&" if "?" in base else "?"
        return f"{base}{sep}key={_quote(key)}&status=%d&answer=%A&at=%T&smsc_id=%F"

    def build_request(self, client: httpx.AsyncClient, msg: OutboundMessage) -> httpx.Request:
        params = {
            "username": self.username,
            "password": self.password,
            "from": msg.sender,
            "to": msg.to,
            "text": msg.text,
            "charset": "UTF-8",
        }
        if needs_ucs2(msg.text):
            params["coding"] = "2"
        if msg.validity_s is not None:
            params["validity"] = str(msg.validity_s // 60)
        if self.smsc:
            params["smsc"] = self.smsc
        if self.dlr_url:
            params["dlr-mask"] = str(self.dlr_mask)
            params["dlr-url"] = self.dlr_url_for(msg.key)
        return client.build_request("GET", self._url, params=params)

    def interpret(self, msg: OutboundMessage, response: httpx.Response) -> SendResult | RetryLater:
        status = response.status_code
        body = response.text.strip()
        if status in (200, 202) and body[:2] in ("0:", "3:"):
            return SendResult(msg.key, ACCEPTED)
        if status == 429 or status >= 500:
            return RetryLater(
                error_code=f"http_{status}",
                error=body or f"HTTP {status}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        return SendResult(msg.key, FAILED, error_code=f"http_{status}", error=body or None)
