"""One writer per DuckDB file: waiting for a lock, and the analysts' copy."""

import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from dagster_project.publish import publish_copy
from dagster_project.warehouse import connect, is_lock_error


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
    try:
        with pytest.raises(duckdb.IOException) as err:
            connect(path, lock_timeout_s=0.3)
        assert is_lock_error(err.value)
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
    assert publish_copy(src, target) == {"raw.a": 10}

    reader = duckdb.connect(str(target), read_only=True)
    src.execute("INSERT INTO raw.a SELECT range FROM range(5)")
    assert publish_copy(src, target) == {"raw.a": 15}
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
