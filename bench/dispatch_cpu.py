"""CPU per message of the dispatch paths, variants interleaved (bench/README.md, "Dispatch").

    python -m bench.dispatch_cpu [--messages 10000] [--repeat 2] [--variants ...]

Wall-clock throughput on a shared machine swings with the other processes'
load; the sender process's own CPU time per message (``time.process_time``)
swings less. Each variant sends ``--messages`` Twilio-shaped messages to the
local gateway (its own process) after a 500-message warm-up, and the variants
take turns, so a change in load hits them all. Variants, ``loop:kind-client``:
``aio`` (asyncio's loop) or ``uv`` (uvloop); ``sa`` (``send_all`` in batches of
5,000) or ``bare``; ``httpcore`` / ``aiohttp`` (the gateway client over that
layer), ``httpx-aiohttp`` (a bare httpx loop on it) or plain ``aiohttp``.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import uvloop

from bench.dispatch import (
    BATCH,
    CONCURRENCY,
    LocalGateway,
    bare_aiohttp_loop,
    bare_loop,
    client,
    make_messages,
    twilio_adapter,
    twilio_bare_request,
)
from dagster_project.activation.gateway import send_all

VARIANTS = "aio:sa-httpcore,aio:sa-aiohttp,uv:sa-aiohttp,uv:bare-httpx-aiohttp,uv:bare-aiohttp"
WARM = 500


async def measure(variant: str, adapter, msgs) -> tuple[float, float]:
    """(wall seconds, CPU seconds) for ``msgs`` after a warm-up."""
    kind, layer = variant.split("-", 1)
    request = twilio_bare_request(adapter)
    if variant == "bare-aiohttp":
        cpu = time.process_time()
        warm_cpu: list[float] = []

        def note(msg):  # the CPU clock starts with the first timed message
            if not warm_cpu and msg is msgs[WARM]:
                warm_cpu.append(time.process_time())
            return request(msg)

        _, wall = await bare_aiohttp_loop(msgs, note, CONCURRENCY, warm=WARM)
        return wall, time.process_time() - (warm_cpu[0] if warm_cpu else cpu)
    async with client(CONCURRENCY, layer=layer.removeprefix("httpx-")) as c:
        warm, timed = msgs[:WARM], msgs[WARM:]
        if kind == "sa":
            await send_all(adapter, warm, client=c, rate_per_second=0, concurrency=CONCURRENCY)
        else:
            await bare_loop(c, warm, request, CONCURRENCY)
        t, cpu = time.perf_counter(), time.process_time()
        if kind == "sa":
            for start in range(0, len(timed), BATCH):
                await send_all(
                    adapter, timed[start : start + BATCH], client=c, rate_per_second=0,
                    concurrency=CONCURRENCY,
                )  # fmt: skip
        else:
            await bare_loop(c, timed, request, CONCURRENCY)
        return time.perf_counter() - t, time.process_time() - cpu


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--messages", type=int, default=10_000)
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--variants", default=VARIANTS)
    a = p.parse_args()
    gateway = LocalGateway()
    try:
        adapter = twilio_adapter(gateway.url)
        for rep in range(a.repeat):
            for v in a.variants.split(","):
                loop, variant = v.split(":")
                msgs = make_messages(a.messages + WARM, f"cpu-{v}-{rep}")
                factory = uvloop.new_event_loop if loop == "uv" else asyncio.new_event_loop
                with asyncio.Runner(loop_factory=factory) as runner:
                    wall, cpu = runner.run(measure(variant, adapter, msgs))
                n = a.messages
                print(f"{v:26s} {n / wall:7,.0f} msg/s {cpu / n * 1e6:7,.0f} us CPU/msg")
    finally:
        gateway.stop()


if __name__ == "__main__":
    main()
