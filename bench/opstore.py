"""The operational-store benchmark: dispatch throughput on the embedded store and on
PostgreSQL with 1, 2 and 4 dispatch workers, and the warehouse sync of a large ledger.

Every measurement sends to ``tests/support/gateway_servers.py`` started as its own
process (``LocalGateway``, Twilio-shaped, rate limit off: ``rate_per_second=0``), which
logs every request's arrival time and key; a fresh gateway per measurement.

1. **Embedded (the default store).** The dispatch loop of ``activation.dispatch`` on a
   DuckDB ledger in a file, one process: per batch of ``BATCH`` (the dispatch asset's
   default), ``ledger.mark_sending`` committed, ``GatewayResource.send``, then
   ``ledger.record_results``. The re-check before it (reachability, windows) is not
   measured on either side.
2. **PostgreSQL in-process.** The same loop with the ledger on PostgreSQL: what the
   dispatch does with ``workers=1`` (no worker process).
3. **PostgreSQL, 1, 2 and 4 workers.** A throwaway durable server (``demo.postgres``,
   fsync on). The messages are written as a plan and approved for a run (not timed: the
   dispatch run's re-check does that), then ``dispatch_workers.supervise`` starts the
   worker processes, which claim (``FOR UPDATE SKIP LOCKED``, leases), send and record;
   timed from the call until it returns (every message final, every worker exited),
   worker start-up included; the moment the store held every message final is polled
   beside it (``final_s``), and one claim is probed on the fresh run (rolled back).

For each: messages/s over the wall time; the start-up (from the start to the gateway's
first arrival) and the steady rate between the gateway's first and last arrival (the
same clock: ``time.monotonic`` is system-wide); and the gateway's log checked: every
message accepted exactly once, nothing else accepted.

4. **Sync.** A fresh database on the same server holding ``SYNC_ROWS`` (1,000,000) ledger
   rows (10,000 written by ``ledger.write_plan``, the rest copies of them with new keys,
   mostly accepted with provider ids; vacuumed and checkpointed before timing), synced
   into an empty DuckDB warehouse (``opstore.sync.to_warehouse``); then ``SYNC_UPDATE``
   (10,000) rows sent (``mark_sending`` and ``record_results`` on the store) and synced
   again. After each sync the warehouse's ledger must equal the store's, count by state.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MESSAGES = 50_000
WORKERS = (1, 2, 4)
BATCH = 1_000  # the dispatch asset's default batch_size
LEASE_S = 60.0
SYNC_ROWS = 1_000_000
SYNC_SEED = 10_000
SYNC_UPDATE = 10_000


# -- pure helpers (tests/unit/bench/test_bench_opstore.py) ---------------------------------
def accepted_once(hits: Iterable[dict], keys: Iterable[str]) -> int:
    """How many of ``keys`` the gateway accepted; raises unless every one of them was
    accepted exactly once and nothing else was accepted (``hits``: the gateway's log)."""
    accepted = Counter(h["key"] for h in hits if 200 <= h["status"] < 300)
    wanted = set(keys)
    missing = sorted(wanted - accepted.keys())
    twice = sorted(k for k, n in accepted.items() if n > 1)
    strangers = sorted(accepted.keys() - wanted, key=str)
    if missing or twice or strangers:
        raise AssertionError(
            f"gateway log: {len(missing)} message(s) never accepted (e.g. {missing[:3]}), "
            f"{len(twice)} accepted more than once (e.g. {twice[:3]}), "
            f"{len(strangers)} unexpected key(s) accepted (e.g. {strangers[:3]})"
        )
    return len(wanted)


def rates(messages: int, started: float, ended: float, arrivals: Sequence[float]) -> dict:
    """Wall rate, start-up and steady rate of one run (all times on one monotonic clock).

    ``started``/``ended``: when the run was started and when every message was final;
    ``arrivals``: the gateway's arrival times. Start-up is the wait for the first arrival;
    the steady rate counts the messages after the first over the time to the last one
    (no start-up, no final write after the last answer).
    """
    at = sorted(arrivals)
    wall = ended - started
    out = {
        "messages": messages,
        "wall_s": wall,
        "msgs_per_s": messages / wall if wall > 0 else None,
        "startup_s": at[0] - started if at else None,
        "tail_s": ended - at[-1] if at else None,
        "steady_msgs_per_s": None,
    }
    if len(at) > 1 and at[-1] > at[0]:
        out["steady_msgs_per_s"] = (len(at) - 1) / (at[-1] - at[0])
    return out


def pg_url(dsn: str, database: str) -> str:
    """The same server's ``database`` (a URL-form DSN)."""
    head, _, tail = dsn.rpartition("/")
    query = tail.partition("?")[2]
    return f"{head}/{database}" + (f"?{query}" if query else "")


# -- the measurements -------------------------------------------------------------------------
def _support():
    if str(REPO / "tests") not in sys.path:
        sys.path.insert(0, str(REPO / "tests"))
    from support import ledger_rows

    return ledger_rows


def _local_gateway(log: Path):
    from bench.dispatch import LocalGateway  # imported here: the unit tests need no client

    return LocalGateway(log)


def _gateway_resource(url: str):
    from dagster_project.activation.gateway.resource import GatewayResource

    return GatewayResource(
        kind="twilio", base_url=url, account_sid="ACbench", auth_token="bench",
        status_callback_url="http://127.0.0.1:9/s", rate_per_second=0,
    )  # fmt: skip


def _read_hits(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def _measured(log: Path, keys: Sequence[str], started: float, ended: float) -> dict:
    hits = _read_hits(log)
    out = rates(len(keys), started, ended, [h["at"] for h in hits])
    out["accepted"] = accepted_once(hits, keys)
    out["requests"] = len(hits)
    out["load_after"] = os.getloadavg()[0]
    return out


def embedded(base: Path, n: int, batch: int = BATCH) -> dict:
    """The default store: the dispatch loop on a DuckDB ledger file, one process."""
    import duckdb

    path = base / "embedded.duckdb"
    for suffix in ("", ".wal"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    conn = duckdb.connect(str(path))
    try:
        return in_process(conn, n, "embedded", batch) | {"store": "embedded"}
    finally:
        conn.close()


def postgres_in_process(dsn: str, n: int, batch: int = BATCH) -> dict:
    """PostgreSQL with ``workers=1``: the same one-process loop (no worker process), the
    ledger on the server."""
    from dagster_project.opstore import postgres

    store = postgres.connect(dsn)
    try:
        # the plan's writes flushed before the clock starts, as for the workers' runs
        flush = lambda: store.raw.execute("CHECKPOINT")  # noqa: E731
        return in_process(store, n, "in-process", batch, flush) | {"store": "postgres"}
    finally:
        store.close()


def in_process(conn, n: int, campaign: str, batch: int = BATCH, prepare=None) -> dict:
    """``activation.dispatch``'s loop for one process on ``conn``'s ledger: per batch,
    ``mark_sending`` committed, ``GatewayResource.send``, ``record_results``
    (``prepare()`` runs once the plan is written, before the clock starts)."""
    import pandas as pd

    from dagster_project.activation import ledger
    from dagster_project.activation.gateway.types import OutboundMessage
    from dagster_project.activation.ledger import results_frame

    rows = _support().planned_rows(n, campaign=campaign)
    ledger.ensure(conn)
    ledger.write_plan(
        conn, campaign, rows["plan_day"].iloc[0], rows,
        pd.DataFrame(columns=["token", "message_key", "target_url"]),
    )  # fmt: skip
    due = conn.execute(
        "SELECT message_key, phone_e164, sender, body, kind FROM sms.ledger "
        "WHERE state = 'planned' AND campaign_id = ? ORDER BY scheduled_at, message_key",
        [campaign],
    ).fetchall()
    keys = [r[0] for r in due]
    if prepare is not None:
        prepare()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "hits.jsonl"
        gateway = _local_gateway(log)
        try:
            g = _gateway_resource(gateway.url)
            now = dt.datetime.now(dt.UTC)
            until = now + dt.timedelta(hours=2)
            load = os.getloadavg()[0]
            started = time.monotonic()
            for i in range(0, len(due), batch):
                part = due[i : i + batch]
                part_keys = [r[0] for r in part]
                ledger.mark_sending(conn, part_keys, now, "bench", dict.fromkeys(part_keys, until))
                messages = [
                    OutboundMessage(key=k, to=to, sender=s, text=body, kind=kind, expires_at=until)
                    for k, to, s, body, kind in part
                ]
                frame = results_frame(g.send(messages), part_keys)
                ledger.record_results(
                    conn, frame, now + dt.timedelta(seconds=time.monotonic() - started)
                )
            ended = time.monotonic()
        finally:
            gateway.stop()
        out = _measured(log, keys, started, ended)
    states = dict(
        conn.execute(
            "SELECT state, count(*) FROM sms.ledger WHERE campaign_id = ? GROUP BY 1", [campaign]
        ).fetchall()
    )
    assert states == {"accepted": n}, states
    return out | {"workers": 0, "load_before": load, "states": states}


def postgres_workers(dsn: str, n: int, workers: int, batch: int = BATCH) -> dict:
    """PostgreSQL: ``workers`` worker processes claiming and sending one approved run."""
    from dagster_project.activation import dispatch_workers
    from dagster_project.opstore import claims, postgres

    support = _support()
    run_id = f"bench-w{workers}"
    rows = support.planned_rows(n, campaign=f"bench-w{workers}")
    store = postgres.connect(dsn)
    try:
        expires = dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(hours=2)
        approved = support.approve_all(store, run_id, rows, expires)
        assert approved == n, approved
        store.raw.execute("CHECKPOINT")  # the plan's writes flushed before the clock starts
        claim_s = _one_claim_s(store, run_id, batch)
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "hits.jsonl"
            gateway = _local_gateway(log)
            try:
                g = _gateway_resource(gateway.url)
                load = os.getloadavg()[0]
                watch = _FinalWatch(dsn, run_id, n)
                started = time.monotonic()
                done = dispatch_workers.supervise(
                    store, g, run_id, workers=workers, batch_size=batch, lease_s=LEASE_S,
                    run_now=dt.datetime.now(dt.UTC), shift=dt.timedelta(0), dsn=dsn,
                    log=lambda m: print(m, file=sys.stderr),
                )  # fmt: skip
                ended = time.monotonic()
            finally:
                gateway.stop()
            out = _measured(log, rows["message_key"].tolist(), started, ended)
            final_at = watch.stop()
            # When the store held every message final (polled), before the workers exited.
            out["final_s"] = final_at - started if final_at else None
        states, _ = claims.run_states(store, run_id)
    finally:
        store.close()
    assert states == {"accepted": n}, states
    assert done.died == 0 and done.restarts == 0, done
    out |= {
        "store": "postgres", "workers": workers, "load_before": load, "states": states,
        "first_claim_s": claim_s,
    }  # fmt: skip
    return out


def _one_claim_s(store, run_id: str, batch: int) -> float:
    """One worker's first claim of the approved run, timed and rolled back (a probe of the
    claim query on a run this size; ``run_id`` itself stays as approved)."""
    from dagster_project.opstore import claims

    store.execute("BEGIN")
    try:
        t = time.monotonic()
        got = claims.claim(store, run_id, "probe", batch, LEASE_S, False)
        took = time.monotonic() - t
    finally:
        store.execute("ROLLBACK")
    assert len(got) == batch, len(got)
    return took


class _FinalWatch:
    """Polls the store (its own connection, every ``POLL_S``) for the moment all ``n``
    messages of ``run_id`` are final: the supervisor returns only after its workers exit."""

    POLL_S = 0.1

    def __init__(self, dsn: str, run_id: str, n: int) -> None:
        import threading

        import psycopg

        self.at: float | None = None
        self._stop = threading.Event()
        self._conn = psycopg.connect(dsn, autocommit=True)

        def poll() -> None:
            from dagster_project.activation.ledger import FINAL

            sql = f"SELECT count(*) FROM sms.ledger WHERE dispatch_run = %s AND state IN {FINAL}"
            while not self._stop.wait(self.POLL_S):
                if self._conn.execute(sql, [run_id]).fetchone()[0] >= n:
                    self.at = time.monotonic()
                    return

        self._thread = threading.Thread(target=poll, name="final-watch", daemon=True)
        self._thread.start()

    def stop(self) -> float | None:
        self._stop.set()
        self._thread.join(10)
        self._conn.close()
        return self.at


# What a worker process imports before its first claim: its module, then ``work``'s own.
WORKER_IMPORTS = (
    "import dagster_project.activation.dispatch_workers\n"
    "from dagster_project.activation.ledger import results_frame\n"
    "from dagster_project.activation.gateway.resource import GatewayResource\n"
    "from dagster_project.opstore import claims, postgres, rate\n"
)


def worker_import_s() -> float:
    """Seconds for a fresh interpreter to import what a dispatch worker process imports
    before its first claim (``WORKER_IMPORTS``), and exit."""
    import subprocess

    t = time.monotonic()
    subprocess.run([sys.executable, "-c", WORKER_IMPORTS], check=True, cwd=REPO)
    return time.monotonic() - t


def _ledger_states(conn) -> dict:
    return dict(conn.execute("SELECT state, count(*) FROM sms.ledger GROUP BY 1").fetchall())


def _fill(store, rows: int, seed: int = SYNC_SEED) -> None:
    """``rows`` ledger rows: ``seed`` planned ones through ``write_plan``, the rest copies
    of them with new keys, accepted with provider ids (the store's history)."""
    import pandas as pd

    from dagster_project.activation import ledger

    seed = min(seed, rows)
    plan = _support().planned_rows(seed, campaign="sync")
    ledger.ensure(store)
    ledger.write_plan(
        store, "sync", plan["plan_day"].iloc[0], plan,
        pd.DataFrame(columns=["token", "message_key", "target_url"]),
    )  # fmt: skip
    if rows == seed:
        return
    columns = [
        r[0]
        for r in store.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'sms' "
            "AND table_name = 'ledger' AND column_name <> '_xid' ORDER BY ordinal_position"
        ).fetchall()
    ]
    history = {
        "message_key": "l.message_key || '~' || g",
        "customer_id": "l.customer_id || '~' || g",
        "state": "'accepted'",
        "outcome": "'accepted'",
        "provider_message_id": "'SM' || md5(l.message_key || '~' || g)",
        "sending_at": "l.scheduled_at",
        "final_at": "l.scheduled_at + interval '1 second'",
        "attempts": "1",
        "run_id": "'history'",
    }
    select = ", ".join(history.get(c, f"l.{c}") for c in columns)
    copies = -(-rows // seed) - 1
    store.execute(
        f"INSERT INTO sms.ledger ({', '.join(columns)}) SELECT {select} "
        f"FROM sms.ledger AS l CROSS JOIN generate_series(1, {copies}) AS g "
        f"LIMIT {rows - seed}"
    )


def sync(dsn: str, base: Path, rows: int = SYNC_ROWS, update: int = SYNC_UPDATE) -> dict:
    """First sync of ``rows`` ledger rows into an empty warehouse, then an incremental one
    after ``update`` of them were sent."""
    import duckdb
    import pandas as pd
    import psycopg

    from dagster_project.activation import ledger
    from dagster_project.opstore import postgres
    from dagster_project.opstore import sync as opsync

    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS sync_bench")
        admin.execute("CREATE DATABASE sync_bench")
    store = postgres.connect(pg_url(dsn, "sync_bench"))
    path = base / "sync_warehouse.duckdb"
    for suffix in ("", ".wal"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    duck = duckdb.connect(str(path))
    try:
        t = time.monotonic()
        _fill(store, rows)
        fill_s = time.monotonic() - t
        store.raw.execute("VACUUM (ANALYZE) sms.ledger")
        store.raw.execute("CHECKPOINT")
        in_store = _ledger_states(store)
        assert sum(in_store.values()) == rows, in_store

        # What to_warehouse imports on its first call (the pipeline has them loaded).
        import dagster_project.journeys.state  # noqa: F401

        load = os.getloadavg()[0]
        t = time.monotonic()
        first = opsync.to_warehouse(store, duck)
        first_s = time.monotonic() - t
        assert _ledger_states(duck) == in_store, (_ledger_states(duck), in_store)
        assert first.rows.get("ledger") == rows, first.rows

        keys = [
            r[0]
            for r in store.execute(
                "SELECT message_key FROM sms.ledger WHERE state = 'planned' "
                "ORDER BY message_key LIMIT ?",
                [update],
            ).fetchall()
        ]
        now = dt.datetime.now(dt.UTC)
        for i in range(0, len(keys), BATCH):  # as a dispatch writes them, batch by batch
            part = keys[i : i + BATCH]
            ledger.mark_sending(store, part, now, "bench-sync")
            ledger.record_results(
                store,
                pd.DataFrame(
                    {
                        "key": part,
                        "state": "accepted",
                        "provider_message_id": [f"SMsync{j}" for j in range(i, i + len(part))],
                        "error_code": None,
                        "error": None,
                        "outcome": "accepted",
                    }
                ),  # fmt: skip
                now,
            )
        in_store = _ledger_states(store)
        t = time.monotonic()
        second = opsync.to_warehouse(store, duck)
        second_s = time.monotonic() - t
        assert _ledger_states(duck) == in_store, (_ledger_states(duck), in_store)
        assert second.rows.get("ledger") == len(keys), second.rows
        db_bytes = path.stat().st_size
    finally:
        duck.close()
        store.close()
    return {
        "rows": rows,
        "fill_s": fill_s,
        "first_s": first_s,
        "first_rows_per_s": rows / first_s,
        "first_report_s": first.seconds,
        "updated": len(keys),
        "incremental_s": second_s,
        "incremental_rows": second.rows.get("ledger"),
        "incremental_report_s": second.seconds,
        "states": in_store,
        "warehouse_mib": db_bytes / 2**20,
        "load_before": load,
    }


def run(
    base: Path,
    messages: int = MESSAGES,
    workers: Sequence[int] = WORKERS,
    sync_rows: int = SYNC_ROWS,
) -> dict:
    from demo.postgres import LocalPostgres

    t = time.monotonic()
    out: dict = {"messages": messages, "batch_size": BATCH, "cpus": os.cpu_count()}
    print(f"opstore: embedded, {messages:,} messages ...", file=sys.stderr, flush=True)
    out["worker_import_s"] = worker_import_s()
    out["embedded"] = embedded(base, messages)
    with LocalPostgres(durable=True) as server:
        print("opstore: postgres, in-process ...", file=sys.stderr, flush=True)
        out["postgres_in_process"] = postgres_in_process(server.dsn, messages)
        out["postgres"] = {}
        for w in workers:
            print(f"opstore: postgres, {w} worker(s) ...", file=sys.stderr, flush=True)
            out["postgres"][str(w)] = postgres_workers(server.dsn, messages, w)
        if sync_rows:
            print(f"opstore: sync, {sync_rows:,} rows ...", file=sys.stderr, flush=True)
            out["sync"] = sync(server.dsn, base, sync_rows)
    out["seconds"] = time.monotonic() - t
    return out
