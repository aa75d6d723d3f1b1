"""The loader's tables as Parquet for Spark: every row, types Spark can read."""

import datetime as dt

import duckdb
import pytest

from dagster_project.spark.raw_tables import CATALOG, export_tables, spark_type


@pytest.mark.parametrize(
    ("duckdb_type", "written"),
    [
        ("UBIGINT", "BIGINT"),
        ("TIME", "VARCHAR"),
        ("TIMESTAMP", "TIMESTAMPTZ"),
        ("TIMESTAMP WITH TIME ZONE", "TIMESTAMP WITH TIME ZONE"),
        ("DECIMAL(18,2)", "DECIMAL(18,2)"),
        (
            "STRUCT(id UBIGINT, price DECIMAL(18,2))[]",
            "STRUCT(id BIGINT, price DECIMAL(18,2))[]",
        ),
    ],
)
def test_types_spark_lacks_are_mapped(duckdb_type, written):
    assert spark_type(duckdb_type) == written


def test_every_source_table_is_written_with_a_catalog(tmp_path):
    conn = duckdb.connect()
    conn.execute("create schema raw; create schema ingest; create schema marts")
    conn.execute(
        "create table raw.pos (id ubigint, seen_at timestamp, local_time time, lines struct(sku varchar)[])"
    )
    conn.execute(
        "insert into raw.pos values (18446744073709551, '2026-03-29 01:30:00', '09:05:00', [{'sku': 'A'}])"
    )
    conn.execute("create table ingest.rejects (file varchar, line bigint, reason varchar)")
    conn.execute("create table marts.dim (x int)")  # not a source: not exported

    exported = export_tables(conn, tmp_path, schemas=("raw", "ingest"))
    assert [(t.schema, t.table, t.rows) for t in exported] == [
        ("ingest", "rejects", 0),
        ("raw", "pos", 1),
    ]
    row = conn.execute(f"select * from read_parquet('{tmp_path}/raw/pos/*.parquet')").fetchone()
    assert row[0] == 18446744073709551 and row[2] == "09:05:00" and row[3] == [{"sku": "A"}]
    # the wall clock UTC becomes the same instant
    assert row[1] == dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)
    catalog = conn.execute(
        f"select schema_name, table_name, location from read_parquet('{tmp_path}/{CATALOG}/*.parquet') order by 1"
    ).fetchall()
    assert catalog == [
        ("ingest", "rejects", str(tmp_path / "ingest" / "rejects")),
        ("raw", "pos", str(tmp_path / "raw" / "pos")),
    ]
    # exported again: replaced whole, nothing left of the old files beside it
    export_tables(conn, tmp_path, schemas=("raw", "ingest"))
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["pos"]
