"""The dispatch benchmark: the gateway sender against a fast local gateway, beside a bare loop.

Three measurements in one run (each gateway its own process, so the sender has
a core of its own):

1. **Throughput.** ``MESSAGES`` (100,000) Twilio-shaped messages through
   ``send_all`` in ledger-sized batches (``dispatch_in_batches``, the path the
   ledger takes), to ``tests/support/gateway_servers.py`` started as a separate process,
   on the client ``GatewayResource`` builds (``GatewayClient`` over
   ``AiohttpTransport``); and the same requests, same concurrency, same server,
   through a bare loop on the fastest client found: plain aiohttp (workers doing
   ``session.request``, reading the body, checking the status). Reported:
   messages/s for both and their ratio; beside them the same bare loop through
   httpx on the gateway client, and on httpx's stock client (one httpcore pool).
   Goal (issue 16): >= 2,000 msg/s and >= 90% of the fastest bare loop.
2. **Rate accuracy.** One sender id at a configured 100 msg/s for ~10 s; the
   rate is measured on the gateway side (arrival times it logs). Goal: +-5%.
3. **Kannel.** The same sender through a real Kannel (bearerbox + smsbox +
   fakesmsc, tests/support/kannel_harness.py) beside a bare aiohttp loop against
   it: Kannel's own acceptance rate is the ceiling there (goal: >= 90% of it).
   Skipped with a note when Kannel is not installed (``make kannel``).

``dispatch_in_batches`` takes ``before_batch`` / ``after_batch`` callbacks: the
hook where the ledger's bulk writes (mark ``sending``, then store results) go
into the measured path.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import aiohttp
import httpx

from dagster_project.activation.gateway import (
    AiohttpTransport,
    GatewayClient,
    KannelAdapter,
    OutboundMessage,
    SendResult,
    ShardedTransport,
    TwilioAdapter,
    run_async,
    send_all,
)

REPO = Path(__file__).resolve().parent.parent
SUPPORT = REPO / "tests" / "support"
MESSAGES = 100_000
CONCURRENCY = 32
BATCH = 5_000
RATE = 100.0
RATE_SECONDS = 10.0
KANNEL_MESSAGES = 5_000

BatchHook = Callable[[Sequence[OutboundMessage]], None]
ResultHook = Callable[[Sequence[OutboundMessage], list[SendResult]], None]


async def dispatch_in_batches(
    adapter,
    messages: Sequence[OutboundMessage],
    *,
    client: httpx.AsyncClient,
    batch_size: int = BATCH,
    before_batch: BatchHook | None = None,
    after_batch: ResultHook | None = None,
    **send_kw,
) -> list[SendResult]:
    """What the ledger does: per batch, mark it sending, send it, write its results.

    ``before_batch`` / ``after_batch`` are where the ledger's bulk writes go.
    """
    out: list[SendResult] = []
    for start in range(0, len(messages), batch_size):
        batch = messages[start : start + batch_size]
        if before_batch:
            before_batch(batch)
        results = await send_all(adapter, batch, client=client, **send_kw)
        if after_batch:
            after_batch(batch, results)
        out.extend(results)
    return out


async def bare_loop(
    client: httpx.AsyncClient,
    messages: Sequence[OutboundMessage],
    request: Callable[[OutboundMessage], tuple[str, str, dict]],
    concurrency: int,
) -> int:
    """``concurrency`` workers sending the same requests over httpx; how many succeeded."""
    it = iter(messages)
    ok = 0

    async def worker() -> None:
        nonlocal ok
        for msg in it:
            method, url, kw = request(msg)
            r = await client.request(method, url, **kw)
            ok += r.status_code < 300

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return ok


async def bare_aiohttp_loop(
    messages: Sequence[OutboundMessage],
    request: Callable[[OutboundMessage], tuple[str, str, dict]],
    concurrency: int,
    *,
    warm: int = 0,
) -> tuple[int, float]:
    """The floor: the same workers on plain aiohttp, the fastest client found.

    ``request`` gives the same (method, url, data/params/headers) as for httpx;
    the first ``warm`` messages open the connections and are not timed.
    Returns (how many succeeded, seconds for the rest).
    """
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        ok = 0

        async def worker(it) -> None:
            nonlocal ok
            for msg in it:
                method, url, kw = request(msg)
                async with session.request(method, url, **kw) as r:
                    await r.read()
                    ok += r.status < 300

        if warm:
            it = iter(messages[:warm])
            await asyncio.gather(*(worker(it) for _ in range(concurrency)))
            ok = 0
        it = iter(messages[warm:])
        t = time.perf_counter()
        await asyncio.gather(*(worker(it) for _ in range(concurrency)))
        return ok, time.perf_counter() - t


def make_messages(n: int, tag: str, sender: str = "+15550001111") -> list[OutboundMessage]:
    return [
        OutboundMessage(
            f"bench-{tag}|C{i:07d}|2026-11-02|A",
            f"+1415{i % 10_000_000:07d}",
            sender,
            f"Hi, your VIP code is VIP{i:06d}. Reply STOP to opt out.",
        )
        for i in range(n)
    ]


def client(concurrency: int = CONCURRENCY, *, layer: str = "aiohttp") -> httpx.AsyncClient:
    """The client GatewayResource builds (``layer``: aiohttp, httpcore); ``stock``: httpx's own."""
    if layer == "stock":
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        return httpx.AsyncClient(timeout=30, limits=limits, trust_env=False)
    transport = (
        AiohttpTransport(concurrency) if layer == "aiohttp" else ShardedTransport(concurrency)
    )
    return GatewayClient(timeout=30, transport=transport, trust_env=False)


class LocalGateway:
    """tests/support/gateway_servers.py as its own process (a core of its own)."""

    def __init__(self, log: Path | None = None) -> None:
        cmd = [sys.executable, str(SUPPORT / "gateway_servers.py"), "--style", "twilio"]
        if log:
            cmd += ["--log", str(log)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.proc.kill()
            raise RuntimeError(f"gateway server did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def twilio_adapter(url: str) -> TwilioAdapter:
    return TwilioAdapter(account_sid="ACbench", auth_token="bench", base_url=url)


def twilio_bare_request(adapter: TwilioAdapter):
    headers = {"Authorization": adapter._headers["Authorization"]}

    def request(msg: OutboundMessage):
        form = {"To": msg.to, "From": msg.sender, "Body": msg.text}
        return "POST", adapter.url, {"data": form, "headers": headers}

    return request


def ledger_hooks(msgs):
    """An in-memory ledger holding ``msgs`` as planned rows, and the two bulk-write hooks."""
    import datetime as dt

    import duckdb
    import pandas as pd

    from dagster_project.activation import ledger

    conn = duckdb.connect(":memory:")
    ledger.ensure(conn)
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    conn.register("_rows", pd.DataFrame({
        "message_key": [m.key for m in msgs], "campaign_id": "bench", "plan_day": now.date(),
        "customer_id": [m.key for m in msgs], "kind": "marketing", "state": "planned",
        "step": "send_window", "phone_e164": [m.to for m in msgs], "body": [m.text for m in msgs],
        "sender": [m.sender for m in msgs], "scheduled_at": now, "planned_at": now,
    }))  # fmt: skip
    conn.execute(
        "INSERT INTO sms.ledger (message_key, campaign_id, plan_day, customer_id, kind, state, "
        "step, phone_e164, body, sender, scheduled_at, planned_at) SELECT * FROM _rows"
    )
    conn.unregister("_rows")

    def before(batch):
        ledger.mark_sending(conn, [m.key for m in batch], dt.datetime.now(dt.UTC), "bench")

    def after(batch, results):
        frame = pd.DataFrame(
            [(r.key, r.state, r.provider_message_id, r.error_code, r.error, r.outcome)
             for r in results],
            columns=["key", "state", "provider_message_id", "error_code", "error", "outcome"],
        )  # fmt: skip
        ledger.record_results(conn, frame, dt.datetime.now(dt.UTC))

    return conn, before, after


def throughput(n: int = MESSAGES, concurrency: int = CONCURRENCY, batch: int = BATCH) -> dict:
    gateway = LocalGateway()
    try:
        adapter = twilio_adapter(gateway.url)

        async def go() -> dict:
            async with client(concurrency) as c:
                # warm up connections and code paths (not measured)
                await dispatch_in_batches(
                    adapter, make_messages(2_000, "warm"), client=c, rate_per_second=0,
                    concurrency=concurrency,
                )  # fmt: skip
                # the floor: plain aiohttp (its own warm-up, not timed)
                msgs = make_messages(n + 2_000, "bare")
                ok, bare_s = await bare_aiohttp_loop(
                    msgs, twilio_bare_request(adapter), concurrency, warm=2_000
                )
                assert ok == n, f"bare loop: {n - ok} requests failed"
                # the same bare loop through httpx, on the gateway client
                msgs = make_messages(n, "bare-httpx")
                t = time.perf_counter()
                ok = await bare_loop(c, msgs, twilio_bare_request(adapter), concurrency)
                bare_httpx_s = time.perf_counter() - t
                assert ok == n, f"bare httpx loop: {n - ok} requests failed"

                msgs = make_messages(n, "send_all")
                batches = []
                t = time.perf_counter()
                results = await dispatch_in_batches(
                    adapter, msgs, client=c, batch_size=batch, rate_per_second=0,
                    concurrency=concurrency, after_batch=lambda b, r: batches.append(len(r)),
                )  # fmt: skip
                sender_s = time.perf_counter() - t
                states = Counter(r.state for r in results)
                assert states == {"accepted": n}, states

                # The same, with the ledger's bulk writes around every batch, as the
                # dispatch asset does them: "sending" committed before, states after.
                msgs = make_messages(n, "ledger")
                conn, before, after = ledger_hooks(msgs)
                t = time.perf_counter()
                results = await dispatch_in_batches(
                    adapter, msgs, client=c, batch_size=batch, rate_per_second=0,
                    concurrency=concurrency, before_batch=before, after_batch=after,
                )  # fmt: skip
                ledger_s = time.perf_counter() - t
                final = dict(
                    conn.execute("SELECT state, count(*) FROM sms.ledger GROUP BY 1").fetchall()
                )
                conn.close()
                assert final == {"accepted": n}, final
                return {
                    "with_ledger_s": ledger_s,
                    "with_ledger_msgs_per_s": n / ledger_s,
                    "with_ledger_ratio": bare_s / ledger_s,
                    "messages": n,
                    "concurrency": concurrency,
                    "batch_size": batch,
                    "batches": len(batches),
                    "send_all_s": sender_s,
                    "send_all_msgs_per_s": n / sender_s,
                    "bare_s": bare_s,
                    "bare_msgs_per_s": n / bare_s,
                    "bare_client": "aiohttp",
                    "ratio": bare_s / sender_s,
                    "bare_httpx_msgs_per_s": n / bare_httpx_s,
                    "states": dict(states),
                }

        async def stock() -> float:
            async with client(concurrency, layer="stock") as c:
                msgs = make_messages(n // 5, "stock")
                t = time.perf_counter()
                await bare_loop(c, msgs, twilio_bare_request(adapter), concurrency)
                return len(msgs) / (time.perf_counter() - t)

        figures = run_async(go())
        # for reference: the same bare loop on httpx's default single pool (a fifth of the messages)
        figures["bare_stock_pool_msgs_per_s"] = run_async(stock())
        return figures
    finally:
        gateway.stop()


def bucket_accuracy(rate: float = RATE, seconds: float = RATE_SECONDS) -> dict:
    """One sender id at ``rate``; arrival times logged by the gateway process."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "hits.jsonl"
        gateway = LocalGateway(log)
        try:
            adapter = twilio_adapter(gateway.url)
            n = int(rate * seconds) + 1
            msgs = make_messages(n, "rate")

            async def go() -> float:
                async with client() as c:
                    t = time.perf_counter()
                    await send_all(adapter, msgs, client=c, rate_per_second=rate)
                    return time.perf_counter() - t

            wall = run_async(go())
        finally:
            gateway.stop()
        at = sorted(json.loads(line)["at"] for line in log.read_text().splitlines())
    measured = (len(at) - 1) / (at[-1] - at[0])
    gaps = [b - a for a, b in zip(at, at[1:], strict=False)]
    return {
        "configured": rate,
        "messages": n,
        "wall_s": wall,
        "measured": measured,
        "error": measured / rate - 1,
        "max_in_any_second": max(
            sum(1 for x in at if s <= x < s + 1) for s in at[: len(at) - int(rate)]
        ),
        "min_gap_ms": min(gaps) * 1000,
    }


def kannel_rate(n: int = KANNEL_MESSAGES, concurrency: int = CONCURRENCY) -> dict:
    sys.path.insert(0, str(SUPPORT))
    from kannel_harness import INSTALL_HINT, Kannel, binaries

    if binaries() is None:
        return {"skipped": INSTALL_HINT}
    with tempfile.TemporaryDirectory() as tmp, Kannel(tmp, log_level=2) as kannel:
        adapter = KannelAdapter(kannel.sendsms_url, kannel.username, kannel.password)

        def bare_request(msg: OutboundMessage):
            params = {
                "username": kannel.username, "password": kannel.password, "from": msg.sender,
                "to": msg.to, "text": msg.text, "charset": "UTF-8",
            }  # fmt: skip
            return "GET", kannel.sendsms_url, {"params": params}

        async def go() -> dict:
            async with client(concurrency) as c:
                msgs = make_messages(n + 200, "kannel-bare")
                ok, bare_s = await bare_aiohttp_loop(msgs, bare_request, concurrency, warm=200)
                msgs = make_messages(n, "kannel-bare-httpx")
                t = time.perf_counter()
                await bare_loop(c, msgs, bare_request, concurrency)
                bare_httpx_s = time.perf_counter() - t
                # warm the gateway client's connections (not measured)
                await send_all(
                    adapter, make_messages(200, "kannel-warm"), client=c, rate_per_second=0,
                    concurrency=concurrency,
                )  # fmt: skip
                msgs = make_messages(n, "kannel-send_all")
                t = time.perf_counter()
                results = await dispatch_in_batches(
                    adapter, msgs, client=c, rate_per_second=0, concurrency=concurrency
                )
                sender_s = time.perf_counter() - t
                return {
                    "messages": n,
                    "bare_ok": ok,
                    "bare_msgs_per_s": n / bare_s,
                    "bare_client": "aiohttp",
                    "bare_httpx_msgs_per_s": n / bare_httpx_s,
                    "send_all_msgs_per_s": n / sender_s,
                    "ratio": bare_s / sender_s,
                    "states": dict(Counter(r.state for r in results)),
                }

        figures = run_async(go())
        t = time.perf_counter()
        got = kannel.wait_received(3 * n + 400, timeout=120)
        figures["fakesmsc_received"] = len(got)
        figures["drain_s"] = time.perf_counter() - t
        return figures


def run(messages: int = MESSAGES) -> dict:
    t = time.perf_counter()
    out = {"throughput": throughput(messages)}
    out["bucket"] = bucket_accuracy()
    out["kannel"] = kannel_rate()
    out["seconds"] = time.perf_counter() - t
    return out
