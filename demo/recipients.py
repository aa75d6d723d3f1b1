"""What recipients do after a demo message: delivery, clicks, replies, STOP, purchases.

The demo's world after the send. Pure: given the messages the sandbox gateway
accepted (phone, text, when) and its delivery receipts, it decides with a
seeded hash per message what each recipient does, so the same seed gives the
same story. The truth it injects is known:

* **uplift**: a recipient whose message was delivered makes one extra purchase,
  with probability ``uplift`` of its campaign, between 30 minutes and
  ``purchase_within_days`` after delivery, in a store of their country (a POS
  sale with the phone typed at the till: the channel no web-only attribution
  sees). Everyone, treated or held out, keeps the purchases the generator
  already made for those days, so the holdout sees exactly the natural rate and
  the expected lift in conversion rate over *sent* messages is
  ``uplift x delivered share x (1 - natural rate)`` (an extra purchase by
  someone who bought anyway does not add a converter);
* **clicks**: delivered recipients click their link with ``click_rate`` (and
  ``click_rate_buyers`` for those who buy because of it, shortly before);
* **replies**: ``STOP`` in the recipient's language with ``stop_rate``,
  ``HELP`` with ``help_rate``, a free-text reply with ``reply_rate``.

Nothing here touches the network or the warehouse; ``demo.loop`` posts the
callbacks to the webhook receiver and writes the purchases as landing files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import phonenumbers

from dagster_project.webhooks.replies import reply_language

LINK_TOKEN = re.compile(r"/c/([0-9A-Za-z]+)")
# The opt-out word a recipient of each language types (the footer advertises it).
STOP_WORDS = {"en": "STOP", "de": "STOPP", "tr": "DUR"}
HELP_WORDS = {"en": "HELP", "de": "HILFE", "tr": "YARDIM"}
FREE_REPLIES = ("Thanks!", "Is the offer valid online too?", "Danke, bis bald", "Tesekkurler")


@dataclass(frozen=True)
class Behaviour:
    """How recipients react; ``uplift`` per campaign id, ``default_uplift`` for the rest."""

    uplift: Mapping[str, float] = field(default_factory=dict)
    default_uplift: float = 0.15
    click_rate: float = 0.12
    click_rate_buyers: float = 0.6
    stop_rate: float = 0.02
    help_rate: float = 0.005
    reply_rate: float = 0.01
    purchase_within_days: float = 4.0
    seed: int = 42

    def __post_init__(self) -> None:
        rates = {
            "default_uplift": self.default_uplift,
            "click_rate": self.click_rate,
            "click_rate_buyers": self.click_rate_buyers,
            "stop_rate": self.stop_rate,
            "help_rate": self.help_rate,
            "reply_rate": self.reply_rate,
            **{f"uplift[{k}]": v for k, v in self.uplift.items()},
        }
        for name, value in rates.items():
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], got {value}")
        if self.stop_rate + self.help_rate + self.reply_rate > 1:
            raise ValueError("stop_rate + help_rate + reply_rate must not exceed 1")
        if self.purchase_within_days <= 0:
            raise ValueError("purchase_within_days must be positive")

    def uplift_of(self, campaign_id: str) -> float:
        return self.uplift.get(campaign_id, self.default_uplift)


@dataclass(frozen=True)
class SentMessage:
    """One message the gateway accepted, on the demo's clock."""

    key: str  # campaign|customer|day|variant
    provider_message_id: str
    phone: str
    sender: str
    text: str
    sent_at: dt.datetime  # UTC
    status: str  # the sandbox receipt: delivered | undelivered | failed
    error_code: str | None
    receipt_delay_s: float

    @property
    def campaign_id(self) -> str:
        return self.key.split("|", 1)[0]


@dataclass(frozen=True)
class Callback:
    """One thing that reaches the webhook receiver."""

    kind: str  # status | inbound | click
    at: dt.datetime
    key: str
    phone: str
    payload: Mapping[str, object]


@dataclass(frozen=True)
class Purchase:
    key: str
    campaign_id: str
    phone: str
    region: str | None
    at: dt.datetime


@dataclass
class Outcomes:
    callbacks: list[Callback] = field(default_factory=list)
    purchases: list[Purchase] = field(default_factory=list)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, campaign_id: str, what: str) -> None:
        per = self.counts.setdefault(campaign_id, {})
        per[what] = per.get(what, 0) + 1


def draw(seed: int, key: str, what: str) -> float:
    """A uniform [0, 1) number fixed by (seed, message, what): reruns tell the same story."""
    digest = hashlib.sha256(f"{seed}|{what}|{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def digest(seed: int, what: str, key: str) -> str:
    return hashlib.sha256(f"{seed}|{what}|{key}".encode()).hexdigest()[:26]


def region_of(phone: str) -> str | None:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(phone))
    except phonenumbers.NumberParseException:
        return None


def simulate(messages: list[SentMessage], behaviour: Behaviour) -> Outcomes:
    out = Outcomes()
    seed = behaviour.seed
    for m in messages:
        campaign = m.campaign_id
        out.count(campaign, "sent")
        receipt_at = m.sent_at + dt.timedelta(seconds=m.receipt_delay_s)
        out.callbacks.append(
            Callback(
                "status",
                receipt_at,
                m.key,
                m.phone,
                {
                    "id": m.provider_message_id,
                    "key": m.key,
                    "to": m.phone,
                    "from": m.sender,
                    "status": m.status,
                    "error_code": m.error_code,
                    "event_at": receipt_at.isoformat(timespec="milliseconds"),
                },
            )
        )
        if m.status != "delivered":
            continue
        out.count(campaign, "delivered")
        language = reply_language(None, m.phone)  # as the receiver would answer them

        buys = draw(seed, m.key, "buy") < behaviour.uplift_of(campaign)
        hours = 0.5 + draw(seed, m.key, "buy_at") * (behaviour.purchase_within_days * 24 - 0.5)
        buy_at = receipt_at + dt.timedelta(hours=hours)
        if buys:
            out.purchases.append(Purchase(m.key, campaign, m.phone, region_of(m.phone), buy_at))
            out.count(campaign, "injected_purchases")

        token = LINK_TOKEN.search(m.text)
        click_p = behaviour.click_rate_buyers if buys else behaviour.click_rate
        if token and draw(seed, m.key, "click") < click_p:
            # Buyers click on the way to buying; others some time in the first day.
            lead = dt.timedelta(minutes=5 + 60 * draw(seed, m.key, "click_at"))
            click_at = buy_at - lead if buys else receipt_at + lead * 12
            out.callbacks.append(
                Callback("click", max(click_at, receipt_at), m.key, m.phone, {"token": token[1]})
            )
            out.count(campaign, "clicks")

        roll = draw(seed, m.key, "reply")
        text = None
        if roll < behaviour.stop_rate:
            text, what = STOP_WORDS[language], "stops"
        elif roll < behaviour.stop_rate + behaviour.help_rate:
            text, what = HELP_WORDS[language], "help"
        elif roll < behaviour.stop_rate + behaviour.help_rate + behaviour.reply_rate:
            pick = int(draw(seed, m.key, "reply_text") * len(FREE_REPLIES))
            text, what = FREE_REPLIES[pick], "replies"
        if text:
            reply_at = receipt_at + dt.timedelta(minutes=2 + 600 * draw(seed, m.key, "reply_at"))
            out.callbacks.append(
                Callback(
                    "inbound",
                    reply_at,
                    m.key,
                    m.phone,
                    {
                        "id": "SBXIN" + digest(seed, "inbound", m.key),
                        "from": m.phone,
                        "to": m.sender,
                        "text": text,
                        "event_at": reply_at.isoformat(timespec="milliseconds"),
                    },
                )
            )
            out.count(campaign, what)
    out.callbacks.sort(key=lambda c: (c.at, c.key, c.kind))
    return out
