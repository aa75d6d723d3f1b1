"""A real Kannel reports to the real receiver: DLRs of sent messages, and a phone's STOP.

bearerbox + smsbox + fakesmsc on loopback (``tests/support/kannel_harness.py``) and the
receiver as its own uvicorn process. The messages go out through
``GatewayResource(kind="kannel")`` with no ``dlr_url`` configured, so the
default (the receiver's ``/kannel/dlr/<secret>``) is what is under test; the
phone's replies are typed into fakesmsc and reach the receiver through an
``sms-service`` whose ``get-url`` is the receiver's, and the receiver's answer
goes back to the phone as an SMS. Kannel missing fails these tests: never skipped.
"""

from __future__ import annotations

import time

import pytest
from support.kannel_harness import INSTALL_HINT, Kannel, binaries
from support.webhook_server import ReceiverProcess

from dagster_project.activation.gateway import GatewayResource, OutboundMessage
from dagster_project.contracts import webhook_urls

if binaries() is None:
    pytest.fail(INSTALL_HINT, pytrace=False)

SECRET = "kannel-test-secret-0123456789"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    base = tmp_path_factory.mktemp("kannel-rx")
    with ReceiverProcess(base / "rx", secret=SECRET) as rx:
        get_url = webhook_urls.kannel_inbound_url(SECRET, base=rx.url)
        with Kannel(base / "kannel", get_url=get_url, http_request_retry=5) as kannel:
            yield rx, kannel


def test_delivery_reports_reach_the_receiver_by_default(stack, monkeypatch):
    rx, kannel = stack
    monkeypatch.setenv("SMS_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("SMS_WEBHOOK_PORT", str(rx.port))
    monkeypatch.delenv("SMS_WEBHOOK_PUBLIC_URL", raising=False)
    gateway = GatewayResource(
        kind="kannel", sendsms_url=kannel.sendsms_url, username=kannel.username,
        password=kannel.password, rate_per_second=50,
    )  # fmt: skip
    assert gateway.adapter().dlr_url == f"{rx.url}/kannel/dlr/{SECRET}"
    messages = [
        OutboundMessage(
            "winback|C001|2026-11-02|A", "+4917612345001", "Shop", "Hallo Anna, 10 € Rabatt"
        ),
        OutboundMessage("vip|Ayşe|2026-11-02|B", "+905321234567", "Shop", "Teşekkürler Ayşe!"),
    ]
    results = gateway.send(messages)
    assert [r.state for r in results] == ["accepted", "accepted"]
    keys = {m.key for m in messages}
    dlrs = rx.wait_events(lambda e: e["source"] == "kannel" and e["message_key"] in keys, n=4)
    # fakesmsc's SMSC acknowledges (8: sent) and delivers (1: delivered) each message
    assert {(e["message_key"], e["status"], e["provider_status"]) for e in dlrs} == {
        (k, s, p) for k in keys for s, p in (("sent", "8"), ("delivered", "1"))
    }
    for e in dlrs:
        assert e["event_type"] == "status" and e["error_code"] is None
        assert e["occurred_at"] and e["occurred_at"].endswith("+00:00")  # Kannel's %T
        assert len(e["event_id"]) == 32


@pytest.mark.parametrize(
    "phone, text, action, keyword, reply, ucs2",
    [
        ("+4917612345678", "STOP", "opt_out", "STOP", "Shop: Abgemeldet.", False),
        ("+905321234567", "iptal", "opt_out", "IPTAL", "Shop: listeden cikarildiniz", False),
        ("+905321234568", "İPTAL", "opt_out", "IPTAL", "Shop: listeden cikarildiniz", False),
        # a Turkish phone codes İ and ş in UCS-2: the receiver decodes Kannel's %b with %C
        ("+905321234569", "İptal", "opt_out", "IPTAL", "Shop: listeden cikarildiniz", True),
        ("+905321234570", "başla", "opt_in", "BASLA", "Shop: tekrar listedesiniz", True),
        ("+905321234571", "Teşekkürler,\niyi  günler!", None, None, None, True),
        ("+14155550105", "help", "help", "HELP", "Shop: questions?", False),
        ("+14155550106", "start", "opt_in", "START", "Shop: you are subscribed again.", False),
        ("+14155550107", "please  don't stop", None, None, None, False),  # spaces kept
    ],
)
def test_a_phones_reply_is_logged_and_answered(stack, phone, text, action, keyword, reply, ucs2):
    rx, kannel = stack
    before = len(kannel.received())
    kannel.inject(phone, "12345", text, ucs2=ucs2)
    [e] = rx.wait_events(lambda e: e["event_type"] == "inbound" and e["phone"] == phone)
    assert (e["source"], e["text"], e["our_number"]) == ("kannel", text, "12345")
    assert (e["action"], e["keyword"]) == (action, keyword)
    assert e["provider_message_id"]  # Kannel's %I, a uuid
    assert e["occurred_at"].endswith("+00:00")  # Kannel's %t
    if reply is None:
        assert e["reply_text"] is None
        time.sleep(2)  # fakesmsc prints at most once a second in interactive mode
        assert [m for m in kannel.received()[before:] if m.to == phone] == []  # omit-empty
    else:
        assert e["reply_text"].startswith(reply)
        got = kannel.wait_received(before + 1)
        answer = [m for m in got[before:] if m.to == phone]
        assert [m.text for m in answer] == [e["reply_text"]]  # the phone got the confirmation
        assert answer[0].sender == "12345"


def test_an_event_the_receiver_could_not_write_comes_again_and_lands(stack):
    """The receiver answers 500 when the log cannot be written; Kannel retries
    (``http-request-retry``) and the retry lands once the disk is back."""
    rx, kannel = stack
    phone = "+4917699999999"
    moved = rx.events_dir.with_name("events.moved")
    rx.events_dir.rename(moved)
    rx.events_dir.write_text("not a folder: every append fails")
    try:
        kannel.inject(phone, "12345", "STOP")
        deadline = time.monotonic() + 15
        while "could not write kannel inbound" not in rx.log_path.read_text():
            assert time.monotonic() < deadline, "the receiver never failed the write"
            time.sleep(0.05)
    finally:
        rx.events_dir.unlink()
        moved.rename(rx.events_dir)
    [e] = rx.wait_events(lambda e: e["phone"] == phone)
    assert (e["action"], e["keyword"]) == ("opt_out", "STOP")
    assert "GET /kannel/inbound/*** 500" in rx.log_path.read_text()
