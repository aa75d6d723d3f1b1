"""The demo's recipients: what they do is seeded, bounded and matches the uplift asked for."""

from __future__ import annotations

import datetime as dt

import pytest

from demo.__main__ import parse_uplift
from demo.recipients import Behaviour, SentMessage, simulate

SENT_AT = dt.datetime(2026, 11, 15, 10, 0, tzinfo=dt.UTC)
PHONES = {"en": "+447700900123", "de": "+4915112345678", "tr": "+905321234567"}


def _messages(n: int, campaign: str = "winback", phone: str = PHONES["en"], bad_every: int = 0):
    return [
        SentMessage(
            key=f"{campaign}|C{i:05d}|2026-11-15|A",
            provider_message_id=f"SBX{i}",
            phone=phone,
            sender="SHOPEX",
            text=f"Hello, 15% off: https://sms.example/c/Tok{i:05d} Reply STOP to opt out",
            sent_at=SENT_AT,
            status="undelivered" if bad_every and i % bad_every == 0 else "delivered",
            error_code="30003" if bad_every and i % bad_every == 0 else None,
            receipt_delay_s=12.5,
        )
        for i in range(n)
    ]


def test_same_seed_same_story_and_a_receipt_for_every_message():
    msgs = _messages(500, bad_every=10)
    a, b = simulate(msgs, Behaviour(seed=1)), simulate(msgs, Behaviour(seed=1))
    assert a.callbacks == b.callbacks and a.purchases == b.purchases
    c = simulate(msgs, Behaviour(seed=2))
    assert c.purchases != a.purchases
    receipts = [x for x in a.callbacks if x.kind == "status"]
    assert len(receipts) == 500
    assert {x.payload["status"] for x in receipts} == {"delivered", "undelivered"}
    assert all(x.at == SENT_AT + dt.timedelta(seconds=12.5) for x in receipts)


def test_uplift_is_what_was_asked_and_only_delivered_recipients_buy():
    msgs = _messages(4000, bad_every=10)  # 3600 delivered
    out = simulate(msgs, Behaviour(default_uplift=0.2, seed=3))
    bought = {p.key for p in out.purchases}
    undelivered = {m.key for m in msgs if m.status != "delivered"}
    assert not bought & undelivered
    rate = len(bought) / 3600
    assert abs(rate - 0.2) < 4 * (0.2 * 0.8 / 3600) ** 0.5  # within 4 standard errors
    for p in out.purchases:
        after = p.at - (SENT_AT + dt.timedelta(seconds=12.5))
        assert dt.timedelta(minutes=30) <= after <= dt.timedelta(days=4)
    assert not simulate(msgs, Behaviour(default_uplift=0.0, seed=3)).purchases
    per_campaign = simulate(msgs, Behaviour(uplift={"winback": 0.0}, default_uplift=1, seed=3))
    assert not per_campaign.purchases


def test_clicks_carry_the_token_from_the_text_and_come_before_the_purchase():
    out = simulate(_messages(2000), Behaviour(default_uplift=0.3, seed=4))
    clicks = {c.key: c for c in out.callbacks if c.kind == "click"}
    assert clicks
    for key, click in clicks.items():
        assert click.payload["token"] == "Tok" + key.split("|")[1][1:]
    buys = {p.key: p for p in out.purchases}
    clicked_buyers = [k for k in buys if k in clicks]
    assert len(clicked_buyers) > 0.4 * len(buys)  # buyers click far more often
    assert all(clicks[k].at < buys[k].at for k in clicked_buyers)


@pytest.mark.parametrize(("language", "word"), [("en", "STOP"), ("de", "STOPP"), ("tr", "DUR")])
def test_recipients_stop_in_their_language(language, word):
    out = simulate(_messages(3000, phone=PHONES[language]), Behaviour(stop_rate=0.05, seed=5))
    texts = [c.payload["text"] for c in out.callbacks if c.kind == "inbound"]
    stops = [t for t in texts if t == word]
    assert abs(len(stops) / 3000 - 0.05) < 0.02
    assert out.counts["winback"]["stops"] == len(stops)


def test_behaviour_and_uplift_arguments_are_checked():
    with pytest.raises(ValueError, match=r"uplift\[x\] must be within"):
        Behaviour(uplift={"x": 1.5})
    with pytest.raises(ValueError, match="must not exceed 1"):
        Behaviour(stop_rate=0.6, reply_rate=0.6)
    assert parse_uplift("0.1") == {"uplift": {}, "default_uplift": 0.1}
    assert parse_uplift("winback-lapsed=0.2, vip=0,0.05") == {
        "uplift": {"winback-lapsed": 0.2, "vip": 0.0},
        "default_uplift": 0.05,
    }
    with pytest.raises(SystemExit, match="'lots' is not a number"):
        parse_uplift("winback=lots")
