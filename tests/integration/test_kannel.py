"""Sending through a real Kannel: bearerbox + smsbox + fakesmsc on loopback.

The messages go through ``GatewayResource(kind="kannel")``, the same path a
Dagster run takes; the assertions are on what fakesmsc (the phone network's
stand-in) printed and on the delivery reports Kannel posted to the dlr-url.

Kannel comes from Debian (``make kannel``; ``make test`` runs it first). A
missing Kannel fails these tests with the install hint: they are never skipped.
"""

from __future__ import annotations

import time

import pytest
from support.gateway_servers import GatewayServer
from support.kannel_harness import INSTALL_HINT, Kannel, binaries

from dagster_project.activation.gateway import GatewayResource, OutboundMessage, needs_ucs2

if binaries() is None:
    pytest.fail(INSTALL_HINT, pytrace=False)


@pytest.fixture(scope="module")
def kannel(tmp_path_factory):
    with Kannel(tmp_path_factory.mktemp("kannel")) as k:
        yield k


@pytest.fixture(scope="module")
def dlr_server():
    with GatewayServer(style="plain") as server:
        yield server


def resource(kannel: Kannel, dlr_server: GatewayServer, **kw) -> GatewayResource:
    config = dict(
        kind="kannel",
        sendsms_url=kannel.sendsms_url,
        username=kannel.username,
        password=kannel.password,
        dlr_url=f"{dlr_server.url}/dlr",
        rate_per_second=50,
    )
    return GatewayResource(**(config | kw))


CAMPAIGN = [
    OutboundMessage("winback|C001|2026-11-02|A", "+4917612345001", "Shop", "Hallo Anna, 10 € Rabatt! STOP an 12345"),
    OutboundMessage("winback|C002|2026-11-02|B", "+4917612345002", "Shop", "Hi {friend} [50%] ~ ^ | \\ back"),
    OutboundMessage("vip|C003|2026-11-02|A", "+905321234567", "Shop", "Teşekkürler Ayşe! 🎉 İndirim"),
    OutboundMessage("newcomer|Céline|2026-11-02|A", "+33612345678", "+15550001111", "Bienvenue Céline, -15% aujourd'hui"),
    OutboundMessage("cart|C005|2026-11-02|A", "+14155550105", "12345", "Your cart is waiting: https://s.example/x7Kq"),
]  # fmt: skip


def test_campaign_through_kannel_reaches_fakesmsc_with_delivery_reports(kannel, dlr_server):
    results = resource(kannel, dlr_server).send(CAMPAIGN)
    assert [(r.key, r.state) for r in results] == [(m.key, "accepted") for m in CAMPAIGN]

    got = kannel.wait_received(len(CAMPAIGN))
    # exactly these messages, once each, as sent
    assert sorted((g.to, g.sender, g.text) for g in got) == sorted(
        (m.to, m.sender, m.text) for m in CAMPAIGN
    )
    codings = {g.to: g.coding for g in got}
    for m in CAMPAIGN:
        # one non-GSM character (ş, 🎉, ç... but not é, which GSM-7 has) makes it UCS-2
        assert codings[m.to] == ("ucs-2" if needs_ucs2(m.text) else "text"), m.text
    assert codings["+905321234567"] == "ucs-2"
    assert codings["+4917612345001"] == "text"  # € is in GSM-7's extension table

    # Kannel reports "accepted by the SMSC" (8) and "delivered" (1) per key to the dlr-url
    deadline = time.monotonic() + 10
    want = {(m.key, s) for m in CAMPAIGN for s in ("8", "1")}
    while time.monotonic() < deadline:
        seen = {(h.key, h.fields.get("status")) for h in dlr_server.hits}
        if want <= seen:
            break
        time.sleep(0.05)
    assert want <= seen
    assert all(h.path == "/dlr" for h in dlr_server.hits)


def test_kannel_refusals_are_permanent_failures(kannel, dlr_server):
    before = len(kannel.received())
    bad_password = resource(kannel, dlr_server, password="wrong")
    [r] = bad_password.send([OutboundMessage("x|1|d|A", "+4917612345009", "Shop", "nope")])
    assert (r.state, r.error_code, r.attempts) == ("failed", "http_403", 1)
    assert "Authorization failed" in r.error
    [r] = resource(kannel, dlr_server).send([OutboundMessage("x|2|d|A", "", "Shop", "no number")])
    assert (r.state, r.attempts) == ("failed", 1) and r.error_code.startswith("http_4")
    time.sleep(0.5)
    assert len(kannel.received()) == before


def test_kannel_rate_limit_and_no_duplicates(kannel, dlr_server):
    msgs = [
        OutboundMessage(
            f"burst|C{i:03d}|2026-11-02|A", f"+4917650000{i:03d}", "Shop", f"Nachricht {i}"
        )
        for i in range(40)
    ]
    before = len(kannel.received())
    t = time.monotonic()
    results = resource(kannel, dlr_server, rate_per_second=20).send(msgs)
    elapsed = time.monotonic() - t
    assert all(r.state == "accepted" for r in results)
    assert elapsed >= 39 / 20 * 0.95  # 20 msg/s from one sender id
    got = kannel.wait_received(before + len(msgs))[before:]
    assert sorted(g.to for g in got) == sorted(m.to for m in msgs)  # each exactly once


def test_kannel_is_told_the_validity_and_a_message_without_a_minute_left_stays(kannel, dlr_server):
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta

    from dagster_project.activation.gateway import KannelAdapter

    now = datetime.now(UTC)
    ok = replace(CAMPAIGN[0], key="validity|C1|2026-11-02|A", to="+4917612345101",
                 expires_at=now + timedelta(minutes=45))  # fmt: skip
    late = replace(CAMPAIGN[0], key="validity|C2|2026-11-02|A", to="+4917612345102",
                   expires_at=now + timedelta(seconds=40))  # fmt: skip
    before = len(kannel.received())
    results = {r.key: r for r in resource(kannel, dlr_server).send([ok, late])}
    assert results[ok.key].state == "accepted"
    assert (results[late.key].state, results[late.key].error_code) == ("failed", "window_closed")
    got = kannel.wait_received(before + 1)[before:]
    time.sleep(0.5)
    assert [g.to for g in kannel.received()[before:]] == [ok.to] == [g.to for g in got]
    # What the adapter asks smsbox for: whole minutes left, rounded down.
    adapter = KannelAdapter(kannel.sendsms_url, kannel.username, kannel.password)
    import httpx

    request = adapter.build_request(httpx.AsyncClient(), replace(ok, validity_s=45 * 60 - 3))
    assert request.url.params["validity"] == "44"
