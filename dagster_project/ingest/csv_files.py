"""Reading CSV landing files into the load's stage with the source's explicit column types.

Clean files go through DuckDB's ``read_csv`` whole. Lines DuckDB cannot read (a wrong field
count, a value that does not cast) become rejects naming file, line and column; so does a line
with one extra empty trailing field, which DuckDB would accept shifted one column along. Files
with such lines, or with a row ``faults`` will quarantine, are read again line by line so that
every row and reject keeps its exact line.

Writes the temporary ``_stage`` / ``_stage_rejects`` tables that ``stage`` creates.
"""

from __future__ import annotations

import csv
import tempfile
from collections import defaultdict
from pathlib import Path

import duckdb

from dagster_project.ingest import faults
from dagster_project.ingest.lines import batches, numbered_lines_sql, sql_list, sql_str
from dagster_project.ingest.specs import SourceSpec, duckdb_type


def _read_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as f:
        return next(csv.reader(f), [])


def _scan_structure(conn: duckdb.DuckDBPyConnection, files: list[Path], n_fields: int) -> None:
    """Record in ``_csv_bad`` every data line whose field count differs from the header's.

    DuckDB's reader rejects most such lines itself, but by design accepts a line
    with one extra *empty* trailing field, shifting its values one column along.
    Counting fields outside quotes per physical line catches every case. Files
    with a line of unbalanced quotes (a quoted newline, or a broken quote) are
    marked instead and left to DuckDB, whose quote handling is the authority.
    """
    conn.execute(
        f"""
        INSERT INTO _csv_bad
        WITH lines AS ({numbered_lines_sql(files)}),
        measured AS (
            SELECT filename, line_no, line,
                   regexp_replace(line, '"([^"]|"")*"', '', 'g') AS bare,
                   (length(line) - length(replace(line, '"', ''))) % 2 = 1 AS odd_quotes
            FROM lines WHERE line_no > 1
        )
        SELECT filename, line_no, line,
               length(bare) - length(replace(bare, ',', '')) + 1 AS fields, odd_quotes
        FROM measured
        WHERE odd_quotes OR length(bare) - length(replace(bare, ',', '')) + 1 <> {n_fields}
        """
    )


def stage(
    conn: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    files: list[Path],
    extra_columns: dict[str, list[str]],
) -> None:
    """Read CSV files into ``_stage`` / ``_stage_rejects``, grouped by header layout.

    Clean files are read by ``read_csv`` directly. Files with lines of the wrong
    shape have those lines rejected, and their other lines are read by
    ``read_csv`` from a temporary file in which each line carries its source
    file and line number, so rows and type rejects keep their exact origin.
    A column the source does not know is not loaded: ``extra_columns`` gets the
    files that carry it, under the header as delivered.
    """
    layouts: dict[tuple[str, ...], list[Path]] = defaultdict(list)
    for batch in batches(files):
        for path in batch:
            layouts[tuple(_read_header(path))].append(path)
    fault = faults.fault_condition(spec)

    for n, (header, group) in enumerate(sorted(layouts.items())):
        read_columns: dict[str, str] = {}
        names: dict[str, str] = {}  # raw column -> header as delivered
        for i, name in enumerate(header):
            col = spec.column(name)
            if col is None or col.name in read_columns:
                extra_columns.setdefault(name, []).extend(str(p) for p in group)
                read_columns[f"_extra_{i}"] = "VARCHAR"
            else:
                read_columns[col.name] = duckdb_type(col.type)
                names[col.name] = name
        select = ", ".join(
            f'r."{c.name}"'
            if c.name in read_columns
            else f'NULL::{duckdb_type(c.type)} AS "{c.name}"'
            for c in spec.columns
        )
        rename = " ".join(
            f"WHEN {sql_str(raw)} THEN {sql_str(shown)}" for raw, shown in names.items()
        )

        conn.execute(
            "CREATE OR REPLACE TEMP TABLE _csv_bad (filename VARCHAR, line_no BIGINT, "
            "line VARCHAR, fields BIGINT, odd_quotes BOOLEAN)"
        )
        for batch in batches(group):
            _scan_structure(conn, batch, len(header))
        # A file with unbalanced quotes is DuckDB's to judge, whole.
        quoted = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT filename FROM _csv_bad WHERE odd_quotes"
            ).fetchall()
        }
        conn.execute(
            "DELETE FROM _csv_bad WHERE filename IN "
            "(SELECT filename FROM _csv_bad WHERE odd_quotes)"
        )
        conn.execute(
            f"""
            INSERT INTO _stage_rejects
            SELECT filename, line_no, NULL, 'malformed',
                   'malformed: ' || fields || ' fields, the header has {len(header)}', line
            FROM _csv_bad
            """
        )
        shaky = {r[0] for r in conn.execute("SELECT DISTINCT filename FROM _csv_bad").fetchall()}
        clean = [p for p in group if str(p) not in shaky]
        if clean:
            _read_csv_native(conn, clean, read_columns, select, rename, f"{n}")
            if fault:
                shaky |= _with_faults(conn, {str(p) for p in clean} - quoted, fault)
        if shaky:
            _read_csv_numbered(conn, sorted(shaky), read_columns, select, rename, f"{n}")


def _with_faults(conn: duckdb.DuckDBPyConnection, files: set[str], fault: str) -> set[str]:
    """Files of ``files`` holding a row-level fault, their rows taken out of the stage again.

    DuckDB's native reader keeps no line numbers; a quarantined row must name its line,
    so those files (few, in practice) are read again line by line.
    """
    found = {
        r[0]
        for r in conn.execute(
            f"SELECT DISTINCT _source_file FROM _stage WHERE _source_line IS NULL AND ({fault})"
        ).fetchall()
    } & files
    if found:
        conn.execute("CREATE OR REPLACE TEMP TABLE _refetch (filename VARCHAR)")
        conn.executemany("INSERT INTO _refetch VALUES (?)", [[f] for f in sorted(found)])
        conn.execute("DELETE FROM _stage WHERE _source_file IN (SELECT filename FROM _refetch)")
        conn.execute(
            "DELETE FROM _stage_rejects WHERE source_file IN (SELECT filename FROM _refetch)"
        )
        conn.execute("DROP TABLE _refetch")
    return found


def _csv_options(columns: dict[str, str], rejects: str, header: bool) -> str:
    columns_sql = "{" + ", ".join(f"'{k}': '{v}'" for k, v in columns.items()) + "}"
    return (
        f"header = {str(header).lower()}, auto_detect = false, columns = {columns_sql}, "
        "delim = ',', quote = '\"', escape = '\"', store_rejects = true, "
        f"rejects_table = '_rej_{rejects}', rejects_scan = '_scan_{rejects}'"
    )


def _read_csv_native(conn, files, read_columns, select, rename, tag) -> None:
    conn.execute(
        f"""
        INSERT INTO _stage
        SELECT {select}, r.filename AS _source_file, NULL::BIGINT AS _source_line
        FROM read_csv({sql_list(files)}, filename = true,
                      {_csv_options(read_columns, tag, header=True)}) r
        """
    )
    conn.execute(
        f"""
        INSERT INTO _stage_rejects
        SELECT s.file_path, e.line,
               CASE e.column_name {rename} ELSE e.column_name END,
               CASE WHEN e.error_type = 'CAST' THEN 'wrong_type' ELSE 'malformed' END,
               lower(e.error_type) || ': ' || e.error_message,
               e.csv_line
        FROM _rej_{tag} e JOIN _scan_{tag} s USING (scan_id, file_id)
        """
    )
    conn.execute(f"DROP TABLE IF EXISTS _rej_{tag}")
    conn.execute(f"DROP TABLE IF EXISTS _scan_{tag}")


def _read_csv_numbered(conn, files, read_columns, select, rename, tag) -> None:
    """Read the well-shaped lines of ``files`` with their file and line kept."""
    conn.execute("CREATE OR REPLACE TEMP TABLE _csv_files (idx INTEGER, filename VARCHAR)")
    conn.executemany("INSERT INTO _csv_files VALUES (?, ?)", list(enumerate(files)))
    with tempfile.TemporaryDirectory(prefix="sms-ingest-") as tmp:
        numbered = Path(tmp) / "numbered.csv"
        paths = [Path(f) for f in files]
        conn.execute(
            f"""
            COPY (
                SELECT f.idx || ',' || l.line_no || ',' || l.line
                FROM ({numbered_lines_sql(paths)}) l
                JOIN _csv_files f USING (filename)
                WHERE l.line_no > 1
                  AND NOT EXISTS (SELECT 1 FROM _csv_bad b
                                  WHERE b.filename = l.filename AND b.line_no = l.line_no)
            ) TO {sql_str(str(numbered))}
              (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER chr(31))
            """
        )
        columns = {"_file_idx": "INTEGER", "_line": "BIGINT", **read_columns}
        conn.execute(
            f"""
            INSERT INTO _stage
            SELECT {select}, f.filename AS _source_file, r._line AS _source_line
            FROM read_csv({sql_str(str(numbered))}, {_csv_options(columns, tag, header=False)}) r
            JOIN _csv_files f ON f.idx = r._file_idx
            """
        )
        # A reject's csv_line starts with the file index and line number we wrote.
        conn.execute(
            f"""
            INSERT INTO _stage_rejects
            SELECT f.filename, split_part(e.csv_line, ',', 2)::BIGINT,
                   CASE e.column_name {rename} ELSE e.column_name END,
                   CASE WHEN e.error_type = 'CAST' THEN 'wrong_type' ELSE 'malformed' END,
                   lower(e.error_type) || ': ' || e.error_message,
                   regexp_replace(e.csv_line, '^[0-9]+,[0-9]+,', '')
            FROM _rej_{tag} e
            JOIN _csv_files f ON f.idx = split_part(e.csv_line, ',', 1)::INTEGER
            """
        )
    conn.execute(f"DROP TABLE IF EXISTS _rej_{tag}")
    conn.execute(f"DROP TABLE IF EXISTS _scan_{tag}")
