"""The opstore phase's pure helpers: the gateway log's exactly-once check, the rates of a
run from its arrival times, the sync database's DSN, the table's rows."""

import pytest

from bench.__main__ import opstore_rows
from bench.opstore import accepted_once, pg_url, rates


def hit(key, status=201, at=0.0):
    return {"key": key, "status": status, "at": at}


def test_every_key_accepted_once_counts_them():
    hits = [hit("a"), hit("b"), hit("c", status=429), hit("c")]
    assert accepted_once(hits, ["a", "b", "c"]) == 3


@pytest.mark.parametrize(
    ("hits", "what"),
    [
        ([hit("a")], "1 message(s) never accepted"),
        ([hit("a"), hit("b", status=500)], "1 message(s) never accepted"),
        ([hit("a"), hit("b"), hit("b", status=200)], "1 accepted more than once"),
        ([hit("a"), hit("b"), hit("x")], "1 unexpected key(s) accepted"),
        ([hit("a"), hit("b"), hit(None)], "1 unexpected key(s) accepted"),
    ],
)
def test_a_missing_twice_or_stranger_acceptance_fails(hits, what):
    with pytest.raises(AssertionError, match=what.replace("(", r"\(").replace(")", r"\)")):
        accepted_once(hits, ["a", "b"])


def test_rates_split_start_up_steady_and_tail():
    out = rates(5, started=10.0, ended=16.0, arrivals=[13.0, 12.0, 13.5, 14.0, 12.5])
    assert out["wall_s"] == 6.0
    assert out["msgs_per_s"] == pytest.approx(5 / 6)
    assert out["startup_s"] == 2.0
    assert out["tail_s"] == 2.0
    assert out["steady_msgs_per_s"] == pytest.approx(4 / 2.0)


def test_rates_without_arrivals_or_with_one():
    assert rates(0, 1.0, 2.0, [])["startup_s"] is None
    one = rates(1, 1.0, 2.0, [1.5])
    assert one["steady_msgs_per_s"] is None and one["startup_s"] == 0.5


def test_pg_url_names_another_database_on_the_same_server():
    assert pg_url("postgresql://sms@127.0.0.1:5544/sms", "sync_bench") == (
        "postgresql://sms@127.0.0.1:5544/sync_bench"
    )
    assert pg_url("postgresql://u@h:1/db?sslmode=disable", "x") == (
        "postgresql://u@h:1/x?sslmode=disable"
    )


def test_opstore_rows_embedded_first_then_workers_in_numeric_order():
    figures = {
        "embedded": {"m": 0},
        "postgres_in_process": {"m": 0},
        "postgres": {"4": {"m": 4}, "1": {"m": 1}, "2": {"m": 2}, "10": {"m": 10}},
    }
    assert [label for label, _ in opstore_rows(figures)] == [
        "embedded (DuckDB)", "postgres in-proc", "postgres x1", "postgres x2", "postgres x4", "postgres x10",
    ]  # fmt: skip
