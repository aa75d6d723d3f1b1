from dagster_project.lib import dbt_parse_cache as cache


def test_a_parse_kept_beside_the_warehouse_starts_the_next_target(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    first, second = tmp_path / "target" / "run-1", tmp_path / "target" / "run-2"
    # Nothing kept yet: the target is left for dagster-dbt to start from the project's parse.
    assert cache.prime(warehouse, first) is False
    assert not (first / cache.PARSE_FILE).exists()
    # A run that wrote no parse (dbt failed before parsing) keeps nothing.
    first.mkdir(parents=True)
    assert cache.keep(warehouse, first) is False
    assert not cache.cache_path(warehouse).exists()

    (first / cache.PARSE_FILE).write_bytes(b"parse of run 1")
    assert cache.keep(warehouse, first) is True
    assert cache.cache_path(warehouse) == tmp_path / "warehouse.duckdb.dbt-parse.msgpack"
    assert cache.prime(warehouse, second) is True
    assert (second / cache.PARSE_FILE).read_bytes() == b"parse of run 1"

    # The newest parse replaces the kept one whole, leaving no temporary file behind.
    (second / cache.PARSE_FILE).write_bytes(b"parse of run 2")
    assert cache.keep(warehouse, second) is True
    assert cache.cache_path(warehouse).read_bytes() == b"parse of run 2"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "target",
        "warehouse.duckdb.dbt-parse.msgpack",
    ]
    # Another warehouse keeps its own.
    assert cache.prime(tmp_path / "other.duckdb", tmp_path / "target" / "run-3") is False
