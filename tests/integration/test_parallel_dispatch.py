"""Parallel dispatch workers on a real PostgreSQL, killed at random.

Four worker processes claim approved messages (``FOR UPDATE SKIP LOCKED``, leases) and
send them to a local Twilio-shaped gateway that does *not* honour an idempotency key,
some of its answers slow, while a thread SIGKILLs workers mid-send. What the gateway's
own log must show afterwards, whatever was killed when:

* no key was accepted twice (a killed worker's messages are never resent: their fate is
  unknown, and the ledger says so);
* every approved message ended in a final state, and every accepted one was received;
* neither sender id was sent faster than its rate by the workers together.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import os
import random
import signal
import threading
from collections import defaultdict

import pandas as pd
import pytest
from support.gateway_servers import Faults, GatewayServer
from support.ledger_rows import approve_all, planned_rows

from dagster_project.activation import dispatch_workers
from dagster_project.activation.gateway.resource import GatewayResource
from dagster_project.opstore import claims, postgres

RATE = 150.0  # per sender id
BURST = max(1.0, 0.05 * RATE)  # the sender's default burst
SENDERS = ("+15550001111", "SHOPEX")
PER_SENDER = 600


def most_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    return max(bisect.bisect_right(times, t + 1.0) - i for i, t in enumerate(times))


@pytest.fixture
def store(postgres_dsn):
    conn = postgres.connect(postgres_dsn)
    yield conn
    conn.close()


def test_four_workers_killed_at_random_never_send_a_key_twice_nor_too_fast(store, postgres_dsn):
    rows = pd.concat(
        [planned_rows(PER_SENDER, campaign=f"c{i}", sender=s) for i, s in enumerate(SENDERS)],
        ignore_index=True,
    )
    expires = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=2)
    assert approve_all(store, "run-crash", rows, expires) == len(rows)
    pids: list[int] = []
    killed: list[int] = []
    stop = threading.Event()

    def killer() -> None:
        """SIGKILLs a worker that holds messages it is sending (its lease names its pid)."""
        rng = random.Random(11)
        with postgres.connect(postgres_dsn) as watch:
            while not stop.is_set() and len(killed) < 4:
                if stop.wait(rng.uniform(0.3, 0.9)):
                    return
                holders = [
                    int(owner.rsplit("-pid", 1)[1])
                    for (owner,) in watch.execute(
                        "SELECT DISTINCT lease_owner FROM sms.ledger WHERE state = 'sending'"
                    ).fetchall()
                ]
                alive = [p for p in holders if p in pids and p not in killed]
                if alive:
                    victim = rng.choice(alive)
                    with contextlib.suppress(ProcessLookupError):  # it had just finished
                        os.kill(victim, signal.SIGKILL)
                        killed.append(victim)

    faults = Faults(rate_slow=0.1, slow_seconds=0.4, seed=5)
    with GatewayServer(faults, style="twilio") as gw:
        gateway = GatewayResource(
            kind="twilio", base_url=gw.url, account_sid="AC0", auth_token="t",
            status_callback_url="http://127.0.0.1:9/status", rate_per_second=RATE,
            timeout_seconds=2.0, max_attempts=2, base_backoff=0.05,
        )  # fmt: skip
        thread = threading.Thread(target=killer, daemon=True)
        thread.start()
        done = dispatch_workers.supervise(
            store, gateway, "run-crash", workers=4, batch_size=30, lease_s=1.5,
            run_now=dt.datetime.now(dt.UTC), shift=dt.timedelta(0), on_spawn=pids.append,
            dsn=postgres_dsn,
        )  # fmt: skip
        stop.set()
        thread.join()
        received = gw.sends()
        arrivals = defaultdict(list)
        for hit in gw.hits:
            arrivals[hit.fields.get("From")].append(hit.at)

    assert len(killed) >= 2, "the test must really kill workers mid-run"
    assert done.died >= len(killed) - 1 and done.restarts >= 1
    # The gateway's own log: no key accepted twice, whatever was killed when.
    assert max(received.values()) == 1
    states, _ = claims.run_states(store, "run-crash")
    left = store.execute(
        "SELECT count(*) FROM sms.ledger WHERE state NOT IN ('accepted', 'failed', 'unknown')"
    ).fetchall()[0][0]
    assert left == 0 and sum(states.values()) == len(rows)
    accepted = {
        k for (k,) in store.execute("SELECT message_key FROM sms.ledger WHERE state = 'accepted'")
        .fetchall()
    }  # fmt: skip
    assert accepted <= set(received)
    # Killed mid-send: some fates are unknown, reported and never resent.
    unknown = {
        k for (k,) in store.execute("SELECT message_key FROM sms.ledger WHERE state = 'unknown'")
        .fetchall()
    }  # fmt: skip
    assert unknown and all(received.get(k, 0) <= 1 for k in unknown), (killed, done, states)
    assert accepted | unknown | set(received) <= set(rows["message_key"])
    # Each sender's rate held across all workers together (the burst, twice, is the slack
    # a token bucket allows: saved-up tokens plus a slot spent up to a burst late).
    for sender in SENDERS:
        assert most_in_any_second(arrivals[sender]) <= RATE + 2 * BURST, sender


def test_parallel_workers_refuse_the_sandbox_and_the_embedded_store(tmp_path):
    import duckdb

    from dagster_project.activation.dispatch import dispatch
    from dagster_project.activation.resources import read_book
    from dagster_project.settings import campaigns_dir

    book = read_book(campaigns_dir())
    with pytest.raises(ValueError, match="PostgreSQL operational store"):
        dispatch(
            duckdb.connect(), GatewayResource(), book.by_id, dt.datetime.now(dt.UTC),
            policy=book.policy, workers=2,
        )  # fmt: skip
    with pytest.raises(ValueError, match="sandbox gateway"):
        dispatch_workers.supervise(
            None, GatewayResource(kind="sandbox", outbox_dir=str(tmp_path)), "run", workers=2,
            batch_size=10, lease_s=5, run_now=dt.datetime.now(dt.UTC), shift=dt.timedelta(0),
        )  # fmt: skip
