"""The in-memory DuckDB session that turns Arrow tables into finished CSV / JSON lines.

String building for millions of rows happens in DuckDB's C++ rather than in
Python. Every query orders by an explicit row number, so output order never
depends on thread scheduling.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

MACROS = r"""
CREATE MACRO csvq(x) AS CASE
    WHEN x IS NULL THEN ''
    WHEN contains(x, ',') OR contains(x, '"') OR x <> trim(x)
        THEN '"' || replace(x, '"', '""') || '"'
    ELSE x END;
CREATE MACRO money(c) AS ((c) / 100)::DECIMAL(18, 2)::VARCHAR;
CREATE MACRO ts(s) AS make_timestamp((s)::BIGINT * 1000000);
CREATE MACRO iso_utc(s) AS strftime(ts(s), '%Y-%m-%dT%H:%M:%S+00:00');
CREATE MACRO csv_ts(s) AS strftime(ts(s), '%Y-%m-%d %H:%M:%S');
CREATE MACRO csv_date(d) AS strftime(make_timestamp((d)::BIGINT * 86400000000), '%Y-%m-%d');
CREATE MACRO clock(s) AS lpad(((s) // 3600)::VARCHAR, 2, '0') || ':'
    || lpad((((s) % 3600) // 60)::VARCHAR, 2, '0') || ':' || lpad(((s) % 60)::VARCHAR, 2, '0');
"""


def connect(threads: int = 2) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(config={"threads": threads, "preserve_insertion_order": True})
    con.execute(MACROS)
    return con


def query_lines(con: duckdb.DuckDBPyConnection, sql: str, **tables: pa.Table) -> pa.StringArray:
    """Run ``sql`` (one VARCHAR column, each value a full line ending in a newline)."""
    for name, table in tables.items():
        con.register(name, table)
    try:
        result = con.sql(sql).to_arrow_table()
    finally:
        for name in tables:
            con.unregister(name)
    column = result.column(0)
    if column.num_chunks == 0:
        return pa.array([], type=pa.string())
    array = column.combine_chunks()
    if array.type != pa.string():
        array = array.cast(pa.string())
    return array


def query_table(con: duckdb.DuckDBPyConnection, sql: str, **tables: pa.Table) -> pa.Table:
    for name, table in tables.items():
        con.register(name, table)
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        for name in tables:
            con.unregister(name)
