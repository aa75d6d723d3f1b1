"""One writer per DuckDB file: the writer lock, waiting for it and saying so, the analysts' copy."""

import os
import signal
import shutil
import subprocess
import sys
import textwrap
import time

import duckdb
import pytest
from dagster import AssetKey, AssetSelection, DagsterInstance, asset, materialize

from dagster_project.lib.warehouse_lock import (
    WarehouseLockTimeout,
    holds,
    lock_path,
    read_holder,
    warehouse_lock,
)
from dagster_project.publish.assets import publish_copy
from dagster_project.warehouse import WarehouseResource, connect, is_lock_error

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def hold_lock(path, seconds: float) -> subprocess.Popen:
    """Another process opens the file read-write and keeps it for ``seconds``."""
    code = textwrap.dedent(
        f"""
        import duckdb, sys, time
        c = duckdb.connect({str(path)!r})
        c.execute("CREATE TABLE IF NOT EXISTS t AS SELECT 1 AS x")
        print("locked", flush=True)
        time.sleep({seconds})
        c.close()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_writer_waits_for_the_lock_then_proceeds(tmp_path):
    path = tmp_path / "wh.duckdb"
    holder = hold_lock(path, 1.5)
    began = time.monotonic()
    conn = connect(path, lock_timeout_s=30)
    waited = time.monotonic() - began
    assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
    conn.close()
    holder.wait(10)
    assert waited >= 0.5  # it really had to wait for the other process


def test_lock_wait_is_bounded_and_the_error_says_why(tmp_path):
    path = tmp_path / "wh.duckdb"
    holder = hold_lock(path, 5)
    said: list[str] = []
    try:
        with pytest.raises(WarehouseLockTimeout, match=f"held by PID {holder.pid} ") as err:
            connect(path, lock_timeout_s=0.3, say=said.append)
        assert is_lock_error(err.value.__cause__)
        # While it waited it said for whom, once (DuckDB names the process holding the file).
        assert (
            len(said) == 1 and f"waiting for the warehouse lock held by PID {holder.pid}" in said[0]
        )
    finally:
        holder.kill()
        holder.wait(10)


def test_read_only_on_a_missing_warehouse_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the pipeline first"):
        connect(tmp_path / "nothing.duckdb", read_only=True)


def test_published_copy_has_every_table_and_readers_of_the_old_copy_keep_reading(tmp_path):
    src = duckdb.connect(str(tmp_path / "wh.duckdb"))
    src.execute("CREATE SCHEMA raw; CREATE TABLE raw.a AS SELECT range AS i FROM range(10)")
    target = tmp_path / "pub" / "warehouse.duckdb"
    assert publish_copy(src, target) == ({"raw.a": 10}, "file")

    reader = duckdb.connect(str(target), read_only=True)
    src.execute("INSERT INTO raw.a SELECT range FROM range(5)")
    assert publish_copy(src, target) == ({"raw.a": 15}, "file")
    # The analyst who had the old snapshot open is undisturbed; a new reader sees the new one.
    assert reader.execute("SELECT count(*) FROM raw.a").fetchone()[0] == 10
    # (A new reader is another process: DuckDB reuses an open database within one.)
    fresh = subprocess.run(
        [
            sys.executable,
            "-c",
            "import duckdb,sys; print(duckdb.connect(sys.argv[1], read_only=True)"
            ".execute('SELECT count(*) FROM raw.a').fetchone()[0])",
            str(target),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert fresh.stdout.strip() == "15"
    for c in (reader, src):
        c.close()


def test_published_copy_holds_views_and_falls_back_to_a_table_copy_when_written_meanwhile(
    tmp_path, monkeypatch
):
    src = duckdb.connect(str(tmp_path / "wh.duckdb"))
    src.execute(
        "CREATE SCHEMA marts; CREATE TABLE marts.t AS SELECT range AS i FROM range(1000);"
        "CREATE VIEW marts.v AS SELECT count(*) AS n FROM marts.t"
    )
    target = tmp_path / "pub" / "warehouse.duckdb"
    # A commit while the file is being read (another connection of the same database):
    # the byte copy may hold half of it, so it is thrown away and the tables copied instead.
    real_copy = shutil.copyfile
    writer = src.cursor()

    def copy_while_writing(a, b):
        real_copy(a, b)
        writer.execute("INSERT INTO marts.t SELECT range FROM range(7)")

    monkeypatch.setattr(shutil, "copyfile", copy_while_writing)
    counts, method = publish_copy(src, target)
    assert (counts, method) == ({"marts.t": 1007}, "tables")
    monkeypatch.undo()
    # A commit left in the log after the checkpoint would be missed by a byte copy: not here.
    counts, method = publish_copy(src, target)
    assert (counts, method) == ({"marts.t": 1007}, "file")
    copy = duckdb.connect(str(target), read_only=True)
    assert copy.execute("SELECT n FROM marts.v").fetchone()[0] == 1007
    copy.close()
    # An in-memory database has no file to copy.
    mem = duckdb.connect()
    mem.execute("CREATE TABLE t AS SELECT 1 AS x")
    assert publish_copy(mem, tmp_path / "mem.duckdb") == ({"main.t": 1}, "tables")
    for c in (writer, src, mem):
        c.close()


def hold_writer_lock(path, seconds: float, what: str) -> subprocess.Popen:
    """Another pipeline process holds the warehouse's writer lock for ``seconds``."""
    code = textwrap.dedent(
        f"""
        import time
        from dagster_project.lib.warehouse_lock import warehouse_lock
        with warehouse_lock({str(path)!r}, timeout_s=0, what={what!r}):
            print("locked", flush=True)
            time.sleep({seconds})
        print("released", time.time(), flush=True)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def released_at(holder: subprocess.Popen) -> float:
    word, when = holder.stdout.readline().split()
    assert word == "released"
    holder.wait(10)
    return float(when)


def test_a_second_writer_waits_for_the_writer_lock_and_says_for_whom(tmp_path):
    path = tmp_path / "wh.duckdb"
    holder = hold_writer_lock(path, 1.5, "python -m dagster_project.pipeline transform")
    said: list[str] = []
    with warehouse_lock(path, timeout_s=30, what="second", say=said.append):
        got_it = time.time()
        assert read_holder(lock_path(path)).pid == os.getpid()  # waiters now read our name
    assert got_it >= released_at(holder)
    assert said[0].startswith(
        f"waiting for the warehouse lock held by PID {holder.pid} "
        "(python -m dagster_project.pipeline transform) since 20"
    )
    assert said[-1].startswith("got the warehouse lock after")


def test_the_writer_lock_wait_is_bounded_and_names_the_holder(tmp_path):
    path = tmp_path / "wh.duckdb"
    holder = hold_writer_lock(path, 5, "python -m dagster_project.pipeline all")
    try:
        with (
            pytest.raises(WarehouseLockTimeout) as err,
            warehouse_lock(path, timeout_s=0.5, say=lambda _: None),
        ):
            pass
        assert f"held by PID {holder.pid} (python -m dagster_project.pipeline all)" in str(
            err.value
        )
    finally:
        holder.kill()
        holder.wait(10)


def test_the_writer_lock_is_reentrant_and_dies_with_its_holder(tmp_path):
    path = tmp_path / "wh.duckdb"
    with warehouse_lock(path, timeout_s=0):
        with warehouse_lock(path, timeout_s=0):  # the same process again: no wait
            assert holds(path)
        assert holds(path)
    assert not holds(path)
    holder = hold_writer_lock(path, 60, "killed")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(10)
    with warehouse_lock(path, timeout_s=5):  # no stale lock after a crash
        assert holds(path)


def test_readers_of_the_published_copy_never_wait(tmp_path):
    live, published = tmp_path / "wh.duckdb", tmp_path / "pub.duckdb"
    with duckdb.connect(str(published)) as conn:
        conn.execute("CREATE TABLE t AS SELECT 1 AS x")
    writer = hold_writer_lock(live, 5, "python -m dagster_project.pipeline all")
    notebook = hold_lock(live, 5)  # the live file is open read-write meanwhile
    try:
        said: list[str] = []
        began = time.monotonic()
        with connect(published, read_only=True, say=said.append) as conn:
            assert conn.execute("SELECT x FROM t").fetchall() == [(1,)]
        assert time.monotonic() - began < 2 and said == []
    finally:
        for proc in (writer, notebook):
            proc.kill()
            proc.wait(10)


def said_waiting_for(logs: list[str], pid: int, command: str) -> bool:
    return any(f"waiting for the warehouse lock held by PID {pid} ({command})" in m for m in logs)


def _run_logs(instance, result) -> list[str]:
    return [e.user_message for e in instance.all_logs(result.run_id) if e.user_message]


def test_a_run_holds_the_writer_lock_from_start_to_end_and_waits_its_turn(tmp_path, monkeypatch):
    path = tmp_path / "wh.duckdb"
    monkeypatch.setenv("SMS_WAREHOUSE_PATH", str(path))
    seen = {}

    @asset
    def first(warehouse: WarehouseResource) -> None:
        seen["started"] = time.time()
        seen["held_before_connecting"] = holds(path)
        with warehouse.get_connection() as conn:
            conn.execute("CREATE TABLE t AS SELECT 42 AS x")

    holder = hold_writer_lock(path, 1.5, "python -m dagster_project.pipeline ingest")
    with DagsterInstance.ephemeral() as instance:
        result = materialize(
            [first], instance=instance, resources={"warehouse": WarehouseResource()},
            run_config=QUIET,
        )  # fmt: skip
        logs = _run_logs(instance, result)
    assert result.success
    assert seen["started"] >= released_at(holder)
    assert seen["held_before_connecting"]
    assert said_waiting_for(logs, holder.pid, "python -m dagster_project.pipeline ingest"), logs
    with duckdb.connect(str(path), read_only=True) as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(42,)]
    assert not holds(path)  # released at the end of the run


def test_dbt_build_waits_for_a_held_lock_and_says_so(tmp_path, monkeypatch):
    """dbt opens the file from its own process: the asset waits for the lock before it.

    The other writer is what a command-line run is: the writer lock held, and the DuckDB
    file open read-write (before, dbt failed at once with DuckDB's lock error)."""
    from dagster_project.definitions import materialize_selection

    path = tmp_path / "wh.duckdb"
    monkeypatch.setenv("SMS_WAREHOUSE_PATH", str(path))
    code = textwrap.dedent(
        f"""
        import duckdb, time
        from dagster_project.lib.warehouse_lock import warehouse_lock
        with warehouse_lock({str(path)!r}, timeout_s=0, what="python -m dagster_project.pipeline ingest"):
            conn = duckdb.connect({str(path)!r})
            print("locked", flush=True)
            time.sleep(3)
            conn.close()
        print("released", time.time(), flush=True)
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    seed = AssetKey(["seeds", "region_defaults"])
    with DagsterInstance.ephemeral() as instance:
        result = materialize_selection(
            AssetSelection.assets(seed), instance=instance, run_config=QUIET, raise_on_error=False
        )
        logs = _run_logs(instance, result)
        started = instance.get_run_stats(result.run_id).start_time
    released = released_at(holder)
    assert result.success, [e for e in result.all_events if e.is_step_failure]
    assert started < released  # the run was under way while the other writer held the file
    assert said_waiting_for(logs, holder.pid, "python -m dagster_project.pipeline ingest"), logs
    with duckdb.connect(str(path), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM seeds.region_defaults").fetchone()[0] > 0
