"""The tables dbt reads as sources, written as Parquet for the Spark target.

The loader stays the one ingest path: it lands every file in DuckDB exactly as today
(rejects quarantined with file, line and reason; phones parsed once). This module then
writes each table of the source schemas (``raw``, ``ingest``, ``sms``) as Parquet under
``$SMS_SPARK_DIR/tables/<schema>/<table>/``, with a catalog of what it wrote
(``_catalog``), which the dbt project's ``on-run-start`` registers as Spark tables
(``dbt/macros/spark/sources.sql``). The operational store's tables (ledger, links,
journey entries) travel the same way from the warehouse's synced copy.

Types are mapped where Spark has no equivalent: unsigned integers become signed 64-bit
(every id here fits), a time of day becomes text ``HH:MM:SS``, and a timestamp without a
zone (UTC by this project's convention) becomes an instant, which Spark's TIMESTAMP is.
Each table is written to a fresh folder and swapped in whole, so a reader never sees
half a table.
"""

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dagster_project.spark import settings as spark_settings

CATALOG = "_catalog"

_TYPE_MAP = (
    (re.compile(r"\bUBIGINT\b"), "BIGINT"),
    (re.compile(r"\bUINTEGER\b"), "BIGINT"),
    (re.compile(r"\bUSMALLINT\b"), "INTEGER"),
    (re.compile(r"\bUTINYINT\b"), "SMALLINT"),
    (re.compile(r"\bHUGEINT\b"), "DECIMAL(38, 0)"),
)


def spark_type(duckdb_type: str) -> str:
    """The DuckDB type a column is written as, so that Spark reads it as its own type."""
    if duckdb_type == "TIME":
        return "VARCHAR"
    if duckdb_type == "TIMESTAMP":
        return "TIMESTAMPTZ"
    mapped = duckdb_type
    for pattern, replacement in _TYPE_MAP:
        mapped = pattern.sub(replacement, mapped)
    return mapped


@dataclass(frozen=True)
class ExportedTable:
    schema: str
    table: str
    rows: int
    location: Path


def export_tables(
    conn: duckdb.DuckDBPyConnection,
    target: Path | None = None,
    schemas: tuple[str, ...] = spark_settings.RAW_SCHEMAS,
) -> list[ExportedTable]:
    """Write every base table of ``schemas`` as Parquet under ``target``; return them.

    ``conn`` is a warehouse connection (read-only is enough). The catalog listing the
    tables is rewritten last, so it never names a table that is not there.
    """
    target = (target or spark_settings.tables_dir()).resolve()
    target.mkdir(parents=True, exist_ok=True)
    conn.execute("set TimeZone = 'UTC'")
    placeholders = ", ".join("?" for _ in schemas)
    tables = conn.execute(
        f"""
        select table_schema, table_name from information_schema.tables
        where table_schema in ({placeholders}) and table_type = 'BASE TABLE'
        order by 1, 2
        """,
        list(schemas),
    ).fetchall()
    exported = []
    for schema, table in tables:
        columns = conn.execute(
            """
            select column_name, data_type from information_schema.columns
            where table_schema = ? and table_name = ? order by ordinal_position
            """,
            [schema, table],
        ).fetchall()
        select = ", ".join(_select_column(name, data_type) for name, data_type in columns)
        location = target / schema / table
        staging = location.with_name(f".{table}.{time.monotonic_ns()}")
        staging.mkdir(parents=True)
        # COPY answers with the rows it wrote: the table is read once
        [rows] = conn.execute(
            f"copy (select {select} from {_quote(schema)}.{_quote(table)}) "
            f"to '{_sql_path(staging / 'part-0.parquet')}' (format parquet)"
        ).fetchone()
        _swap(staging, location)
        exported.append(ExportedTable(schema, table, rows, location))
    _write_catalog(conn, target, exported)
    return exported


def _select_column(name: str, data_type: str) -> str:
    mapped = spark_type(data_type)
    column = _quote(name)
    return column if mapped == data_type else f"cast({column} as {mapped}) as {column}"


def _write_catalog(conn, target: Path, exported: list[ExportedTable]) -> None:
    staging = target / f".{CATALOG}.{time.monotonic_ns()}"
    staging.mkdir()
    values = (
        ", ".join(f"('{t.schema}', '{t.table}', '{_sql_path(t.location)}')" for t in exported)
        or "(null, null, null)"
    )
    conn.execute(
        f"""
        copy (
            select * from (values {values}) as catalog(schema_name, table_name, location)
            where schema_name is not null
        ) to '{_sql_path(staging / "part-0.parquet")}' (format parquet)
        """
    )
    _swap(staging, target / CATALOG)


def _swap(staging: Path, location: Path) -> None:
    old = location.with_name(f".{location.name}.old.{time.monotonic_ns()}")
    if location.exists():
        location.rename(old)
    staging.rename(location)
    shutil.rmtree(old, ignore_errors=True)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
