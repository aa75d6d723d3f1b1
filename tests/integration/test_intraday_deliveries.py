"""A delivery day of shop orders and checkouts that lands in several files (the generator's
intra-day cuts) loads exactly as the same records in one file, and re-loads idempotently as
more cuts land through the day."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from dagster_project.ingest import loader
from dagster_project.ingest.specs import SHOP_CHECKOUTS, SHOP_ORDERS

END = date(2026, 11, 21)
WORLD = dict(customers=800, days=20, seed=13, end=END, mess_rate=0.01, late_rate=0.0)
SPECS = (SHOP_ORDERS, SHOP_CHECKOUTS)
# What differs by construction between a split day and the same day in one file.
WHERE_FROM = "_source_file, _source_line, _loaded_at"


def load_days(landing: Path, warehouse: Path, start: date, end: date) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(str(warehouse))
    for spec in SPECS:
        loader.load(conn, spec, landing, start, end, today=END)
    return conn


def raw_rows(conn, entity: str) -> list[tuple]:
    return conn.execute(
        f"SELECT * EXCLUDE ({WHERE_FROM}) FROM raw.{entity} ORDER BY ALL"
    ).fetchall()


def rejects(conn, entity: str) -> list[tuple]:
    return conn.execute(
        "SELECT error_type, column_name, count(*) FROM ingest.rejects WHERE entity = ? "
        "GROUP BY ALL ORDER BY ALL",
        [entity],
    ).fetchall()


def loads(line: str) -> bool:
    """A line the loader takes: JSON with an integer id (not one of the planted mistakes)."""
    try:
        return isinstance(json.loads(line).get("id"), int)
    except ValueError:
        return False


@pytest.fixture(scope="module")
def worlds(generated):
    return generated(**WORLD, intraday_days=2), generated(**WORLD, intraday_days=0)


def test_a_day_in_several_files_loads_the_same_rows_as_in_one(worlds, tmp_path):
    split, whole = worlds
    start = END - timedelta(days=2)  # one whole-file day and the two split days
    for spec in SPECS:
        assert len(list((split.landing / spec.path / END.isoformat()).glob("*.jsonl"))) > 1
    a = load_days(split.landing, tmp_path / "split.duckdb", start, END)
    b = load_days(whole.landing, tmp_path / "whole.duckdb", start, END)
    try:
        for spec in SPECS:
            rows = raw_rows(a, spec.entity)
            assert len(rows) > 20
            assert rows == raw_rows(b, spec.entity), spec.entity
            assert rejects(a, spec.entity) == rejects(b, spec.entity), spec.entity
    finally:
        a.close()
        b.close()


def test_cuts_landing_through_the_day_reload_that_day_only_and_idempotently(worlds, tmp_path):
    split, _ = worlds
    landing = tmp_path / "landing"
    shutil.copytree(split.landing / "shop", landing / "shop")
    held_back: list[tuple[Path, bytes]] = []
    for spec in SPECS:
        cuts = sorted((landing / spec.path / END.isoformat()).glob("*.jsonl"))
        for f in cuts[len(cuts) // 2 :]:  # the afternoon has not been exported yet
            held_back.append((f, f.read_bytes()))
            f.unlink()
    conn = load_days(landing, tmp_path / "wh.duckdb", END - timedelta(days=1), END)
    try:
        morning = {s.entity: raw_rows(conn, s.entity) for s in SPECS}
        day_before = {
            s.entity: conn.execute(
                f"SELECT count(*) FROM raw.{s.entity} WHERE _partition_date < ?", [END]
            ).fetchone()[0]
            for s in SPECS
        }
        for f, data in held_back:
            f.write_bytes(data)
        # The sensor re-requests the changed day; twice, as a retried run would.
        for _ in range(2):
            for spec in SPECS:
                loader.load(conn, spec, landing, END, END, today=END)
        with duckdb.connect(str(tmp_path / "full.duckdb")) as full:
            for spec in SPECS:
                loader.load(full, spec, split.landing, END - timedelta(days=1), END, today=END)
            for spec in SPECS:
                rows = raw_rows(conn, spec.entity)
                assert len(rows) > len(morning[spec.entity])
                assert rows == raw_rows(full, spec.entity), spec.entity
                assert (
                    conn.execute(
                        f"SELECT count(*) FROM raw.{spec.entity} WHERE _partition_date < ?", [END]
                    ).fetchone()[0]
                    == day_before[spec.entity]
                )
    finally:
        conn.close()


def test_a_record_redelivered_in_a_later_cut_keeps_its_key(worlds, tmp_path):
    """A checkout sent again in the next cut (an export that re-sends what changed in an
    overlapping window) is one more raw row with the same ``(id, updated_at)``, as a repeat
    inside one file is (staging then keeps one version per checkout, so nothing doubles)."""
    split, _ = worlds
    landing = tmp_path / "landing"
    shutil.copytree(split.landing / "shop", landing / "shop")
    cuts = sorted((landing / SHOP_CHECKOUTS.path / END.isoformat()).glob("*.jsonl"))
    again = next(line for line in cuts[0].read_text().splitlines(keepends=True) if loads(line))
    with open(cuts[-1], "a", encoding="utf-8") as fh:
        fh.write(again)
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as conn:
        loader.load(conn, SHOP_CHECKOUTS, landing, END, END, today=END)
        rows, keys, repeated = conn.execute(
            """SELECT count(*), count(DISTINCT (id, updated_at)),
                      max(n) FROM (SELECT *, count(*) OVER (PARTITION BY id, updated_at) AS n
                                   FROM raw.shop_checkouts)"""
        ).fetchone()
    assert repeated >= 2 and rows > keys
