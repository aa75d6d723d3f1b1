"""Parallel dispatch: worker processes sending the messages a dispatch run approved, from
the PostgreSQL operational store (``opstore.claims``), and the run's supervision of them.

A worker (``work``) loops: claim a batch under its lease (committed ``sending`` before
anything leaves), send it through its gateway client (one per worker, its connections
kept across batches) with each sender's rate shared by all workers (``opstore.rate``),
record the answers; a heartbeat thread renews the lease meanwhile. It stops when nothing
is left to claim.

The run (``supervise``) starts ``workers`` of them and watches: a worker that dies (a
crash, a SIGKILL, the OOM killer) is replaced while work is left, at most
``max_restarts`` times; the messages it held wait for its lease to run out and are then
resent through a gateway that honours the idempotency key, or marked ``unknown`` and
never resent. The run returns when every approved message has reached a final state
(or was handed back as past its window).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass

from dagster_project.activation import ledger
from dagster_project.activation.gateway.types import WINDOW_CLOSED, OutboundMessage

POLL_S = 0.2


@dataclass
class Supervised:
    started: int = 0
    restarts: int = 0
    died: int = 0
    settled_unknown: int = 0


def gateway_fields(gateway) -> dict:
    """The gateway resource's settings, for a worker process to build its own."""
    return {name: getattr(gateway, name) for name in type(gateway).model_fields}


def supervise(
    store,
    gateway,
    run_id: str,
    *,
    workers: int,
    batch_size: int,
    lease_s: float,
    run_now: dt.datetime,
    shift: dt.timedelta,
    on_spawn=None,
    log=None,
    max_restarts: int | None = None,
    dsn: str | None = None,
) -> Supervised:
    from dagster_project import settings
    from dagster_project.opstore import claims

    if getattr(gateway, "kind", None) == "sandbox":
        raise ValueError(
            "the sandbox gateway writes one outbox from one process: parallel dispatch "
            "workers need Kannel or Twilio (or workers=1)"
        )
    idempotent = bool(gateway.adapter().honours_idempotency_key)
    limit = max_restarts if max_restarts is not None else 3 * workers
    fields = gateway_fields(gateway)
    dsn = dsn if dsn is not None else settings.postgres_dsn()
    done = Supervised()
    procs: dict[str, subprocess.Popen] = {}

    def start() -> None:
        owner = f"{run_id[:8]}-w{done.started}-{uuid.uuid4().hex[:6]}"
        # A process of its own (``python -m``): no fork of this one's threads and
        # connections, no re-import of the caller's main module. Settings travel on stdin,
        # not the command line, where any local user could read a gateway password.
        proc = subprocess.Popen(
            [sys.executable, "-m", __name__],
            stdin=subprocess.PIPE,
            text=True,
        )
        proc.stdin.write(
            json.dumps(
                dict(
                    dsn=dsn, run_id=run_id, owner=owner, gateway=fields, batch_size=batch_size,
                    lease_s=lease_s, run_now=run_now.isoformat(), shift_s=shift.total_seconds(),
                )
            )
        )  # fmt: skip
        proc.stdin.close()
        procs[owner] = proc
        done.started += 1
        if on_spawn is not None:
            on_spawn(proc.pid)

    for _ in range(workers):
        start()
    while True:
        for owner, proc in list(procs.items()):
            if proc.poll() is not None:
                if proc.returncode != 0:
                    done.died += 1
                    if log:
                        log(
                            f"dispatch worker {owner} (pid {proc.pid}) ended with {proc.returncode}"
                        )
                del procs[owner]
        left = claims.outstanding(store, run_id)
        if not idempotent and left.get("expired"):
            done.settled_unknown += claims.settle_expired(store, run_id)
            left = claims.outstanding(store, run_id)
        work_left = left.get("claimable", 0) + (left.get("expired", 0) if idempotent else 0)
        while work_left and len(procs) < workers:
            if done.restarts >= limit:
                if procs:
                    break
                raise RuntimeError(
                    f"dispatch workers died {done.died} times with {work_left} message(s) "
                    "left; see the workers' output above"
                )
            done.restarts += 1
            start()
        if not procs and not work_left and not left.get("held"):
            return done
        time.sleep(POLL_S)


def work(
    *,
    dsn: str,
    run_id: str,
    owner: str,
    gateway: dict,
    batch_size: int,
    lease_s: float,
    run_now: str,
    shift_s: float,
) -> None:
    """One worker process: claim, send, record, until nothing is left to claim."""
    from dagster_project.activation.gateway.resource import GatewayResource, run_async
    from dagster_project.opstore import claims, postgres, rate

    # The process id in the lease: an operator (or a test) sees which process holds what.
    owner = f"{owner}-pid{os.getpid()}"
    gateway_resource = GatewayResource(**gateway)
    idempotent = bool(gateway_resource.adapter().honours_idempotency_key)
    started = time.monotonic()
    now0 = dt.datetime.fromisoformat(run_now)
    shift = dt.timedelta(seconds=shift_s)
    conn = postgres.connect(dsn, application=f"sms-dispatch-{owner}")
    limits: dict[str, rate.SharedRate] = {}

    def shared(sender: str, per_second: float, burst: float) -> rate.SharedRate:
        if sender not in limits:
            limits[sender] = rate.SharedRate(conn, sender, per_second, burst)
        return limits[sender]

    stop = threading.Event()

    def heartbeat() -> None:
        with postgres.connect(dsn, application=f"sms-dispatch-{owner}-lease") as beat:
            while not stop.wait(lease_s / 3):
                claims.renew(beat, owner, lease_s)

    async def loop() -> None:
        # One event loop and one client (its connections kept) for the worker's life.
        adapter = gateway_resource.adapter()
        async with gateway_resource.client(adapter) as http:
            while True:
                batch = claims.claim(conn, run_id, owner, batch_size, lease_s, idempotent)
                if batch.empty:
                    return
                messages = [
                    OutboundMessage(
                        key=r.message_key, to=r.phone_e164, sender=r.sender, text=r.body,
                        kind=r.kind,
                        expires_at=r.expires_at.to_pydatetime().replace(tzinfo=dt.UTC) + shift,
                    )
                    for r in batch.itertuples()
                ]  # fmt: skip
                results = await gateway_resource.asend(
                    messages, bucket_factory=shared, adapter=adapter, client=http
                )
                frame = ledger.results_frame(results, batch["message_key"].tolist())
                closed = frame["error_code"] == WINDOW_CLOSED
                claims.leave_for_the_run(conn, frame.loc[closed, "key"].tolist())
                ledger.record_results(
                    conn, frame[~closed], now0 + dt.timedelta(seconds=time.monotonic() - started)
                )

    beating = threading.Thread(target=heartbeat, name="lease", daemon=True)
    beating.start()
    try:
        run_async(loop())
    finally:
        stop.set()
        conn.close()


if __name__ == "__main__":
    work(**json.loads(sys.stdin.read()))
