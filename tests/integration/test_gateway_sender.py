"""The async sender, the Twilio and sandbox adapters, against a real local HTTP server.

The server (tests/support/gateway_servers.py) logs every request it receives, so the
assertions are on what reached the gateway: how often each key arrived, when,
with which fields, and what the sender concluded. The pacing and retry arithmetic alone:
unit/activation/test_gateway_pacing.py.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import logging
import re
import time
import zlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from support.gateway_servers import Faults, GatewayServer

from dagster_project.activation.gateway import (
    AiohttpTransport,
    GatewayResource,
    KannelAdapter,
    OutboundMessage,
    SandboxAdapter,
    SandboxTransport,
    TwilioAdapter,
    gateway_from_env,
    send_all,
    simulated_outcome,
)
from dagster_project.activation.gateway.sandbox import SandboxOutbox

FINAL = {"accepted", "failed", "unknown"}


def messages(n: int, *, sender: str = "+15550001111", prefix: str = "+1415555") -> list:
    return [
        OutboundMessage(
            f"camp|c{zlib.crc32(prefix.encode())}-{i}|2026-11-02|A",
            f"{prefix}{i:04d}",
            sender,
            f"Hello {i}",
        )
        for i in range(n)
    ]


def twilio(server: GatewayServer, **kw) -> TwilioAdapter:
    return TwilioAdapter(
        account_sid="AC123",
        auth_token="tok",
        base_url=server.url,
        status_callback_url="http://127.0.0.1:9/status",
        **kw,
    )


LAYER = "httpcore"


@pytest.fixture(autouse=True, params=["httpcore", "aiohttp"])
def connection_layer(request, monkeypatch):
    """Every test twice: over httpx's own pool, and over aiohttp's (the resource's default)."""
    monkeypatch.setattr(f"{__name__}.LAYER", request.param)
    return request.param


def client(timeout: float) -> httpx.AsyncClient:
    if LAYER == "aiohttp":  # httpx's default limit: 100 connections
        return httpx.AsyncClient(timeout=timeout, transport=AiohttpTransport(100))
    return httpx.AsyncClient(timeout=timeout)


def run(adapter, msgs, *, timeout: float = 2.0, **kw):
    async def go():
        async with client(timeout) as c:
            return await send_all(adapter, msgs, client=c, **kw)

    return asyncio.run(go())


def test_duplicate_keys_in_one_call_are_refused():
    msg = messages(1)[0]
    with pytest.raises(ValueError, match="duplicate"):
        run(twilio(GatewayServer()), [msg, msg], rate_per_second=0)


# -- faults over a real socket --------------------------------------------------


def test_faults_every_message_final_retry_after_obeyed_nothing_sent_twice():
    faults = Faults(
        rate_429=0.15,
        retry_after="1",
        rate_500=0.15,
        rate_slow=0.05,
        slow_seconds=1.0,
        errors_by_prefix={"+1666": (400, "21211")},
        seed=7,
    )
    msgs = messages(150) + messages(10, prefix="+1666555")
    msgs[-10:] = [dataclasses.replace(m, key=m.key + "|bad") for m in msgs[-10:]]
    with GatewayServer(faults) as server:
        results = run(
            twilio(server), msgs, timeout=0.4, rate_per_second=0, concurrency=16,
            max_attempts=6, base_backoff=0.05, max_backoff=0.2,
        )  # fmt: skip
    # exactly one final result per message, in order
    assert [r.key for r in results] == [m.key for m in msgs]
    assert {r.state for r in results} <= FINAL
    by_key = {r.key: r for r in results}
    hits_by_key: dict[str, list] = {}
    for h in server.hits:
        hits_by_key.setdefault(h.key, []).append(h)
    # the gateway never accepted a key twice (Twilio has no idempotency key)
    assert max(server.sends().values()) == 1
    # nothing is sent again after the gateway accepted it, even when the answer was lost
    for key, hits in hits_by_key.items():
        ok = [i for i, h in enumerate(hits) if 200 <= h.status < 300]
        assert not ok or ok[0] == len(hits) - 1, key
        assert len(hits) == by_key[key].attempts
    # Retry-After: the next attempt never came sooner than 1 s after a 429
    gaps_after_429 = [
        b.at - a.at
        for hits in hits_by_key.values()
        for a, b in zip(hits, hits[1:], strict=False)
        if a.status == 429
    ]
    assert gaps_after_429, "the fault rates should have produced 429s"
    assert min(gaps_after_429) >= 0.99
    # permanent errors: failed, not retried, the outcome the suppression list needs
    for m in msgs[-10:]:
        r = by_key[m.key]
        assert (r.state, r.error_code, r.outcome, r.attempts) == (
            "failed",
            "21211",
            "invalid_number",
            1,
        )
        assert len(hits_by_key[m.key]) == 1
    # lost answers (slow) are unknown, and the gateway did accept them
    unknown = [r for r in results if r.state == "unknown"]
    assert unknown, "the fault rates should have produced timeouts"
    for r in unknown:
        assert r.error_code == "read_timeout"
        assert server.sends()[r.key] == 1
    accepted = [r for r in results if r.state == "accepted"]
    assert all(r.provider_message_id.startswith("SM") for r in accepted)
    assert any(r.attempts > 1 for r in accepted), "some accepted only after retries"


def test_idempotent_gateway_lets_lost_answers_be_retried():
    faults = Faults(rate_slow=0.3, slow_seconds=0.6, seed=3)
    with GatewayServer(faults, idempotent=True) as server:
        adapter = dataclasses.replace(twilio(server), honours_idempotency_key=True)
        results = run(
            adapter, messages(40), timeout=0.3, rate_per_second=0, max_attempts=8,
            base_backoff=0.01, max_backoff=0.05,
        )  # fmt: skip
    assert all(r.state == "accepted" for r in results)
    assert any(n > 1 for n in server.keys().values()), "some keys were resent"
    assert max(server.sends().values()) == 1  # ...and deduped by the gateway


def test_transient_errors_exhaust_to_failed_and_timeouts_to_unknown():
    with GatewayServer(Faults(rate_500=1.0)) as server:
        results = run(
            twilio(server), messages(3), rate_per_second=0, max_attempts=3, base_backoff=0.01
        )
    assert {(r.state, r.attempts, r.error_code) for r in results} == {("failed", 3, "20500")}
    assert set(server.keys().values()) == {3}

    with GatewayServer(Faults(rate_slow=1.0, slow_seconds=0.5), idempotent=True) as server:
        adapter = dataclasses.replace(twilio(server), honours_idempotency_key=True)
        results = run(
            adapter, messages(2), timeout=0.1, rate_per_second=0, max_attempts=3, base_backoff=0.01
        )
    assert {(r.state, r.attempts) for r in results} == {("unknown", 3)}


def test_connect_errors_are_retried_and_end_failed_not_unknown():
    server = GatewayServer().start()
    server.stop()  # nothing listens on its port now
    results = run(twilio(server), messages(2), rate_per_second=0, max_attempts=3, base_backoff=0.01)
    assert {(r.state, r.attempts, r.error_code) for r in results} == {
        ("failed", 3, "connect_error")
    }


def test_retry_after_longer_than_allowed_fails_instead_of_holding_the_run():
    with GatewayServer(Faults(rate_429=1.0, retry_after="3600")) as server:
        results = run(twilio(server), messages(1), rate_per_second=0, max_retry_after=60)
    assert results[0].state == "failed" and "3600" in results[0].error
    assert len(server.hits) == 1


def test_token_bucket_holds_the_rate_on_the_wire():
    rate, n = 50.0, 76  # 1.5 s; default burst: 50 ms worth of tokens (2.5)
    with GatewayServer() as server:
        run(twilio(server), messages(n), rate_per_second=rate, concurrency=8)
    at = sorted(h.at for h in server.hits)
    measured = (n - 1) / (at[-1] - at[0])
    assert measured == pytest.approx(rate, rel=0.05)


def test_slow_sender_does_not_hold_up_a_fast_one():
    slow = messages(4, sender="LONGCODE", prefix="+1415000")
    fast = messages(60, sender="SHORT", prefix="+1415999")
    with GatewayServer() as server:
        t = time.monotonic()
        run(
            twilio(server), slow + fast, rate_per_second=2.0, sender_rates={"SHORT": 100.0},
            concurrency=4, burst=1,
        )  # fmt: skip
        elapsed = time.monotonic() - t
    fast_at = sorted(h.at for h in server.hits if h.fields["From"] == "SHORT")
    slow_at = sorted(h.at for h in server.hits if h.fields["From"] == "LONGCODE")
    assert (len(fast_at) - 1) / (fast_at[-1] - fast_at[0]) == pytest.approx(100, rel=0.1)
    assert fast_at[-1] < slow_at[-1]  # the fast sender finished while the slow one paced
    assert (3 / (slow_at[-1] - slow_at[0])) == pytest.approx(2.0, rel=0.1)
    assert elapsed < 2.0


def test_concurrency_is_bounded():
    with GatewayServer(Faults(rate_slow=1.0, slow_seconds=0.1)) as server:
        run(twilio(server), messages(40), rate_per_second=0, concurrency=5)
    assert server.max_in_flight == 5


def test_resource_client_spreads_connections_over_small_pools():
    """The resource's client (ShardedTransport): bounded, every shard given back."""
    with GatewayServer(Faults(rate_slow=1.0, slow_seconds=0.05)) as server:
        resource = GatewayResource(
            kind="twilio", account_sid="AC1", auth_token="t", base_url=server.url,
            rate_per_second=1000, concurrency=20, transport="httpcore",
        )  # fmt: skip
        adapter = resource.adapter()

        async def go():
            async with resource.client(adapter) as client:
                results = await send_all(
                    adapter, messages(200), client=client, rate_per_second=0, concurrency=20
                )
                return results, list(client._transport._busy)

        results, busy = asyncio.run(go())
    assert [r.state for r in results] == ["accepted"] * 200
    assert server.max_in_flight == 20
    assert busy == [0, 0, 0]  # 20 connections as 3 pools of at most 7


def test_resource_client_over_aiohttp_holds_at_most_concurrency_connections():
    """The default client: aiohttp's pool, capped at ``concurrency`` connections."""
    with GatewayServer(Faults(rate_slow=1.0, slow_seconds=0.05)) as server:
        resource = GatewayResource(
            kind="twilio", account_sid="AC1", auth_token="t", base_url=server.url,
            rate_per_second=1000, concurrency=20,
        )  # fmt: skip
        adapter = resource.adapter()

        async def go():
            async with resource.client(adapter) as client:
                assert isinstance(client._transport, AiohttpTransport)
                # more in flight than connections: the pool, not the sender, must hold them
                results = await send_all(
                    adapter, messages(200), client=client, rate_per_second=0, concurrency=60
                )
                return results, client._transport._session.connector

        results, connector = asyncio.run(go())
    assert [r.state for r in results] == ["accepted"] * 200
    assert server.max_in_flight == 20
    assert connector.limit == 20


def test_a_get_dropped_on_a_kept_alive_connection_is_not_resent():
    """aiohttp resends an idempotent-looking GET once when a reused connection drops.

    A Kannel sendsms is a GET, and the dropped one may already be queued for the
    handset: the sender must see the drop (``unknown``), and the gateway the
    request exactly once.
    """
    seen: list[str] = []

    async def serve(reader, writer):
        while line := await reader.readline():
            while (await reader.readline()) not in (b"\r\n", b""):
                pass
            seen.append(line.decode())
            if len(seen) == 1:  # the first answer keeps the connection open ...
                writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 8\r\n\r\n0: Queue")
                await writer.drain()
            else:  # ... the next request is read, then the connection dropped
                writer.close()
                return

    async def go():
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        adapter = KannelAdapter(f"http://127.0.0.1:{port}/cgi-bin/sendsms", "u", "p")
        try:
            async with client(2.0) as c:
                return await send_all(
                    adapter, messages(2), client=c, rate_per_second=0, concurrency=1
                )
        finally:
            server.close()

    results = asyncio.run(go())
    assert [r.state for r in results] == ["accepted", "unknown"]
    assert results[1].attempts == 1
    assert len(seen) == 2


# -- Twilio's wire format and error mapping -------------------------------------


def test_twilio_form_auth_and_callback():
    msg = OutboundMessage(
        "vip|C42|2026-11-02|B", "+4917612345678", "+15550001111", "Danke, Anna! €5"
    )
    with GatewayServer() as server:
        [result] = run(twilio(server), [msg], rate_per_second=0)
    [hit] = server.hits
    assert hit.fields["To"] == "+4917612345678"
    assert hit.fields["From"] == "+15550001111"
    assert hit.fields["Body"] == "Danke, Anna! €5"
    assert (
        hit.fields["StatusCallback"] == "http://127.0.0.1:9/status?key=vip%7CC42%7C2026-11-02%7CB"
    )
    assert hit.key == msg.key
    assert hit.headers["authorization"] == "Basic " + base64.b64encode(b"AC123:tok").decode()
    assert hit.headers["content-type"] == "application/x-www-form-urlencoded"
    assert result.state == "accepted" and result.provider_message_id.startswith("SM")


def test_twilio_messaging_service_replaces_from():
    with GatewayServer() as server:
        run(twilio(server, messaging_service_sid="MG1"), messages(1), rate_per_second=0)
    assert server.hits[0].fields["MessagingServiceSid"] == "MG1"
    assert "From" not in server.hits[0].fields


def test_twilio_error_codes_map_to_outcomes():
    errors = {
        "+1201": (400, "21610"),  # replied STOP
        "+1202": (400, "21211"),  # invalid To
        "+1203": (400, "21614"),  # not a mobile number
        "+1204": (401, "20003"),  # authentication: permanent, no outcome
        "+1205": (429, "20429"),  # too many requests: retried
        "+1206": (503, "20503"),  # server error: retried
    }
    msgs = [OutboundMessage(f"k{p}", f"{p}5550000", "S", "x") for p in errors]
    with GatewayServer(Faults(errors_by_prefix=errors)) as server:
        results = run(twilio(server), msgs, rate_per_second=0, max_attempts=2, base_backoff=0.01)
    got = {r.key[1:]: (r.state, r.error_code, r.outcome, r.attempts) for r in results}
    assert got == {
        "+1201": ("failed", "21610", "unsubscribed", 1),
        "+1202": ("failed", "21211", "invalid_number", 1),
        "+1203": ("failed", "21614", "invalid_number", 1),
        "+1204": ("failed", "20003", None, 1),
        "+1205": ("failed", "20429", None, 2),
        "+1206": ("failed", "20503", None, 2),
    }


def test_twilio_secrets_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "ACenv")
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "secret-env")
    monkeypatch.setenv("SMS_GATEWAY", "twilio")
    from dagster import build_resources

    with GatewayServer() as server:
        monkeypatch.setenv("TWILIO_API_BASE_URL", server.url)
        resource = gateway_from_env()
        assert "secret-env" not in repr(resource)  # an EnvVar, resolved only at run time
        with build_resources({"gateway": resource}) as res:
            [result] = res.gateway.send(messages(1))
            assert res.gateway.honours_idempotency_key is False
    assert result.state == "accepted"
    assert (server.hits[0].method, server.hits[0].path) == (
        "POST",
        "/2010-04-01/Accounts/ACenv/Messages.json",
    )
    assert (
        server.hits[0].headers["authorization"]
        == "Basic " + base64.b64encode(b"ACenv:secret-env").decode()
    )


def test_logs_mask_phones(caplog):
    caplog.set_level(logging.DEBUG)
    with GatewayServer(Faults(errors_by_prefix={"+1666": (400, "21211")})) as server:
        run(twilio(server), messages(3, prefix="+1666555"), rate_per_second=0)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "+1666555" not in text and "1666555" not in text
    assert re.search(r"\+16•+\d\d", text)


# -- the sandbox ----------------------------------------------------------------


def sandbox_send(tmp_path, msgs, seed=0):
    adapter = SandboxAdapter(tmp_path, seed=seed)

    async def go():
        async with httpx.AsyncClient(transport=adapter.transport()) as client:
            return await send_all(adapter, msgs, client=client, rate_per_second=0)

    return asyncio.run(go())


def test_sandbox_outbox_is_durable_and_dedupes(tmp_path, monkeypatch):
    import os

    fsynced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (fsynced.append(fd), real_fsync(fd)))
    msgs = messages(20)
    first = sandbox_send(tmp_path, msgs)
    assert all(r.state == "accepted" for r in first)
    assert len(fsynced) == 20  # one fsync per accepted message, before the answer
    lines = [json.loads(x) for x in (tmp_path / "outbox.jsonl").read_text().splitlines()]
    assert [x["key"] for x in lines] == [m.key for m in msgs]
    assert lines[0]["to"] == msgs[0].to and lines[0]["text"] == msgs[0].text

    SandboxOutbox._open.clear()  # as a new process would: the index comes from the file
    again = sandbox_send(tmp_path, msgs[:5] + messages(1, prefix="+1415777"))
    assert [r.provider_message_id for r in again[:5]] == [r.provider_message_id for r in first[:5]]
    assert len((tmp_path / "outbox.jsonl").read_text().splitlines()) == 21
    receipts = [json.loads(x) for x in (tmp_path / "receipts.jsonl").read_text().splitlines()]
    assert sorted(r["key"] for r in receipts) == sorted([m.key for m in msgs] + [again[5].key])
    r0 = receipts[0]
    assert r0["id"] == first[0].provider_message_id
    assert r0["event_at"] > lines[0]["accepted_at"]


def test_sandbox_torn_line_and_missing_receipts_after_a_crash(tmp_path):
    sandbox_send(tmp_path, messages(3))
    with (tmp_path / "outbox.jsonl").open("a") as f:
        f.write('{"key": "torn')  # killed mid-write: never acknowledged
    (tmp_path / "receipts.jsonl").write_text("")  # killed before the receipts
    SandboxOutbox._open.clear()
    [r] = sandbox_send(tmp_path, messages(1))
    assert r.state == "accepted"
    receipts = (tmp_path / "receipts.jsonl").read_text().splitlines()
    assert len(receipts) == 3


def test_sandbox_refuses_non_e164():
    transport = SandboxTransport("/tmp/unused-sandbox", seed=0)
    adapter = SandboxAdapter("/tmp/unused-sandbox")
    request = adapter.build_request(httpx.AsyncClient(), OutboundMessage("k", "0171 123", "S", "x"))
    response = asyncio.run(transport.handle_async_request(request))
    result = adapter.interpret(OutboundMessage("k", "0171 123", "S", "x"), response)
    assert (result.state, result.outcome) == ("failed", "invalid_number")


def test_sandbox_receipt_outcomes_are_realistic_and_deterministic():
    keys = [f"c|{i}|d|A" for i in range(20_000)]
    outcomes = [simulated_outcome(k, 1)[1] for k in keys]
    share = {o: outcomes.count(o) / len(keys) for o in set(outcomes)}
    assert share["delivered"] == pytest.approx(0.95, abs=0.01)
    assert share["undelivered"] == pytest.approx(0.03, abs=0.005)
    assert share["invalid_number"] == pytest.approx(0.02, abs=0.005)
    assert outcomes[:50] == [simulated_outcome(k, 1)[1] for k in keys[:50]]
    assert outcomes != [simulated_outcome(k, 2)[1] for k in keys]


def test_resource_defaults_to_the_sandbox(tmp_path, monkeypatch):
    monkeypatch.setenv("SMS_DATA_DIR", str(tmp_path))
    resource = GatewayResource()
    results = resource.send(messages(5))
    assert [r.state for r in results] == ["accepted"] * 5
    assert (tmp_path / "sandbox_gateway" / "outbox.jsonl").exists()
    assert resource.adapter().honours_idempotency_key is True


def test_request_urls_with_secrets_and_phones_are_not_logged(caplog):
    """Kannel's sendsms URL holds the password and the phone: httpx must not log it."""
    import logging

    import dagster_project.activation.gateway.sender  # noqa: F401  (sets the levels)

    with caplog.at_level(logging.DEBUG):  # a root logger that takes everything
        logging.getLogger("httpx").info(
            "HTTP Request: GET http://k/cgi-bin/sendsms?password=s3cret"
        )
        logging.getLogger("httpx").warning("a warning still shows")
    assert "s3cret" not in caplog.text
    assert "a warning still shows" in caplog.text
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING


# -- a message never outlives its window at the provider --------------------------------


def test_twilio_validity_period_is_the_time_left_in_the_window():
    now = datetime.now(UTC)
    soon = OutboundMessage("w|C1|2026-11-02|A", "+4917612345678", "+15550001111", "Hi",
                           expires_at=now + timedelta(hours=1))  # fmt: skip
    late = OutboundMessage("w|C2|2026-11-02|A", "+4917612345679", "+15550001111", "Hi",
                           expires_at=now + timedelta(hours=20))  # fmt: skip
    bare = OutboundMessage("w|C3|2026-11-02|A", "+4917612345670", "+15550001111", "Hi")
    with GatewayServer() as server:
        results = run(twilio(server), [soon, late, bare], rate_per_second=0)
    assert [r.state for r in results] == ["accepted"] * 3
    validity = {h.key: h.fields.get("ValidityPeriod") for h in server.hits}
    assert 3590 <= int(validity[soon.key]) <= 3600
    assert validity[late.key] == "36000"  # Twilio's ceiling: it expires sooner, never later
    assert validity[bare.key] is None


def test_a_message_whose_window_closes_while_it_waits_is_not_sent():
    """Rate-limited to 2 a second with 1.6 s of window left: what cannot leave in time
    stays here (window_closed), and nothing of it reaches the gateway."""
    expires = datetime.now(UTC) + timedelta(seconds=1.6)
    msgs = [dataclasses.replace(m, expires_at=expires) for m in messages(8)]
    with GatewayServer() as server:
        results = run(twilio(server), msgs, rate_per_second=2)
    sent = {r.key for r in results if r.state == "accepted"}
    closed = {r.key for r in results if r.error_code == "window_closed"}
    assert sent | closed == {m.key for m in msgs} and not sent & closed
    assert 1 <= len(sent) <= 4 and len(closed) >= 4
    assert set(server.keys()) == sent  # a closed one never reached the gateway
    for hit in server.hits:
        assert 1 <= int(hit.fields["ValidityPeriod"]) <= 2


def test_sandbox_files_are_private_and_an_expired_message_is_reported(tmp_path):
    import stat

    short = dataclasses.replace(messages(1)[0], validity_s=None,
                                expires_at=datetime.now(UTC) + timedelta(seconds=1.9))  # fmt: skip
    [result] = sandbox_send(tmp_path, [short])
    assert result.state == "accepted"
    for name in ("outbox.jsonl", "receipts.jsonl"):
        mode = stat.S_IMODE((tmp_path / name).stat().st_mode)
        assert mode == 0o600, (name, oct(mode))
    [line] = [json.loads(x) for x in (tmp_path / "outbox.jsonl").read_text().splitlines()]
    assert line["valid_for_s"] == 1
    [receipt] = [json.loads(x) for x in (tmp_path / "receipts.jsonl").read_text().splitlines()]
    # every simulated delivery takes at least 2 s: with 1 s of validity it expires
    assert (receipt["status"], receipt["outcome"], receipt["error_code"]) == (
        "failed",
        "expired",
        "30036",
    )
