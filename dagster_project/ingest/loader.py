"""Load landing files into the ``raw`` schema of the warehouse.

One call loads one source entity over a range of delivery days in a single
pass, with DuckDB's own readers and the explicit types of its ``SourceSpec``:

1. ``landing`` picks the files (valid day folders only; what is skipped is
   reported), decodes a non-UTF-8 file into a UTF-8 copy, quarantines a file
   that cannot be read whole, and checks headers (a missing required column
   fails naming file and column; an extra column is reported, not loaded);
2. rows are read into a temporary stage; rows DuckDB cannot read (wrong
   field count, a value that does not cast) and JSON lines that are not JSON,
   have a wrong-typed field or miss a required one go to ``ingest.rejects``
   with file, line, column and reason, and so do typed rows ``faults`` finds
   unusable (an empty required value, an event dated after its delivery);
3. distinct phone numbers not seen before are parsed with ``phonenumbers``
   and cached in ``ingest.phone_cache``;
4. in one transaction, the range's rows and rejects are deleted and the new
   ones inserted, so re-loading a day replaces exactly that day; then rows a
   delivery of the week before already carried are counted.
"""

from __future__ import annotations

import csv
import os
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from dagster_project.ingest import faults, landing, tables
from dagster_project.ingest.specs import (
    Column,
    JsonType,
    SourceSpec,
    duckdb_type,
    json_structure,
)
from dagster_project.lib import phones

RAW = tables.RAW
META = tables.META

# Characters libphonenumber ignores; dropping them first lets one parse serve
# every way a number was punctuated. The parse itself is phonenumbers'.
_PHONE_KEY_SQL = "nullif(regexp_replace(trim({expr}), '[\\s().\\-/]', '', 'g'), '')"
# Text read per DuckDB statement; keeps peak memory flat on long backfills.
_TEXT_BATCH_BYTES = 256 * 1024 * 1024
# Phone numbers parsed per chunk (Python objects per chunk stay in the tens of MB).
_PHONE_CHUNK = 200_000


class MissingColumnError(ValueError):
    """A landing file lacks a column the source cannot be loaded without."""

    def __init__(self, entity: str, file: Path, column: str, found: list[str]):
        self.entity, self.file, self.column = entity, file, column
        super().__init__(
            f"{file}: required column {column!r} of {entity} is missing "
            f"(columns found: {', '.join(found) or 'none'})"
        )


class MissingReferenceError(RuntimeError):
    """A reference table the load reads (e.g. stores for till phones) is not loaded."""


@dataclass
class LoadResult:
    entity: str
    start: date | None
    end: date | None
    files: list[str] = field(default_factory=list)  # read (quarantined_files were not)
    rows_loaded: int = 0
    rows_rejected: int = 0
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    extra_columns: dict[str, list[str]] = field(default_factory=dict)
    empty_files: list[str] = field(default_factory=list)
    no_row_files: list[str] = field(default_factory=list)  # a CSV header and nothing else
    quarantined_files: list[landing.FileFault] = field(default_factory=list)
    encodings: dict[str, str] = field(default_factory=dict)  # file -> codec, when not UTF-8
    skipped: list[landing.Skipped] = field(default_factory=list)
    rows_quarantined: int = 0  # typed rows moved to the rejects (future-dated, empty required)
    redelivered: faults.Redelivery = field(default_factory=faults.Redelivery)
    phones_parsed: int = 0
    phones_invalid: int = 0
    rows_per_day: dict[str, int] = field(default_factory=dict)
    reject_preview: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


# --------------------------------------------------------------------------- files


def day_folders(landing_root: Path, spec: SourceSpec, today: date | None = None) -> list[date]:
    """Loadable delivery days of a partitioned source, oldest first (see ``landing``)."""
    return landing.scan_days(landing_root, spec, today)[0]


list_files = landing.list_files


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join(_sql_str(str(p)) for p in paths) + "]"


# --------------------------------------------------------------------------- schema


def _table_exists(conn: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        conn.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


# --------------------------------------------------------------------------- CSV


def _read_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as f:
        return next(csv.reader(f), [])


def _batches(files: list[Path], result: LoadResult) -> list[list[Path]]:
    """Non-empty files in groups of at most ``_TEXT_BATCH_BYTES`` (one text read each)."""
    batches: list[list[Path]] = [[]]
    size = 0
    for path in files:
        n = path.stat().st_size
        if n == 0:
            result.empty_files.append(str(path))
            continue
        if batches[-1] and size + n > _TEXT_BATCH_BYTES:
            batches.append([])
            size = 0
        batches[-1].append(path)
        size += n
    return [b for b in batches if b]


def _numbered_lines_sql(files: list[Path]) -> str:
    """Physical lines of ``files`` with 1-based line numbers (blank lines dropped)."""
    return f"""
        SELECT filename, line_no, line FROM (
            SELECT filename, generate_subscripts(ls, 1) AS line_no,
                   rtrim(unnest(ls), chr(13)) AS line
            FROM (SELECT filename, string_split(content, chr(10)) AS ls
                  FROM read_text({_sql_list(files)}))
        ) WHERE trim(line) <> ''
    """


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
        WITH lines AS ({_numbered_lines_sql(files)}),
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


def _stage_csv(
    conn: duckdb.DuckDBPyConnection, spec: SourceSpec, files: list[Path], result: LoadResult
) -> None:
    """Read CSV files into ``_stage`` / ``_stage_rejects``, grouped by header layout.

    Clean files are read by ``read_csv`` directly. Files with lines of the wrong
    shape have those lines rejected, and their other lines are read by
    ``read_csv`` from a temporary file in which each line carries its source
    file and line number, so rows and type rejects keep their exact origin.
    """
    layouts: dict[tuple[str, ...], list[Path]] = defaultdict(list)
    for batch in _batches(files, result):
        for path in batch:
            layouts[tuple(_read_header(path))].append(path)
    fault = faults.fault_condition(spec)

    for n, (header, group) in enumerate(sorted(layouts.items())):
        read_columns: dict[str, str] = {}
        names: dict[str, str] = {}  # raw column -> header as delivered
        for i, name in enumerate(header):
            col = spec.column(name)
            if col is None or col.name in read_columns:
                result.extra_columns.setdefault(name, []).extend(str(p) for p in group)
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
            f"WHEN {_sql_str(raw)} THEN {_sql_str(shown)}" for raw, shown in names.items()
        )

        conn.execute(
            "CREATE OR REPLACE TEMP TABLE _csv_bad (filename VARCHAR, line_no BIGINT, "
            "line VARCHAR, fields BIGINT, odd_quotes BOOLEAN)"
        )
        for batch in _batches(group, result):
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
        FROM read_csv({_sql_list(files)}, filename = true,
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
                FROM ({_numbered_lines_sql(paths)}) l
                JOIN _csv_files f USING (filename)
                WHERE l.line_no > 1
                  AND NOT EXISTS (SELECT 1 FROM _csv_bad b
                                  WHERE b.filename = l.filename AND b.line_no = l.line_no)
            ) TO {_sql_str(str(numbered))}
              (FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER chr(31))
            """
        )
        columns = {"_file_idx": "INTEGER", "_line": "BIGINT", **read_columns}
        conn.execute(
            f"""
            INSERT INTO _stage
            SELECT {select}, f.filename AS _source_file, r._line AS _source_line
            FROM read_csv({_sql_str(str(numbered))}, {_csv_options(columns, tag, header=False)}) r
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


# --------------------------------------------------------------------------- JSON lines


def _leaf_checks(
    name: str, t: JsonType, json_path: str, typed: str, wild: bool
) -> list[tuple[str, str]]:
    """(label, SQL that is true when a non-null JSON value did not survive typing).

    Compares the number of non-null values at each path in the JSON text with
    the number of non-null values after ``json_transform``: a value of the wrong
    type becomes NULL, so the counts differ exactly where a type is wrong.
    """
    checks: list[tuple[str, str]] = []
    if wild:
        json_count = (
            f"len(list_filter(json_extract(line, {_sql_str(json_path)}), "
            f"lambda x: json_type(x) <> 'NULL'))"
        )
        typed_count = f"len(list_filter({typed}, lambda x: x IS NOT NULL))"
    else:
        jx = f"json_extract(line, {_sql_str(json_path)})"
        json_count = f"(CASE WHEN {jx} IS NOT NULL AND json_type({jx}) <> 'NULL' THEN 1 ELSE 0 END)"
        typed_count = f"(CASE WHEN {typed} IS NOT NULL THEN 1 ELSE 0 END)"
    checks.append((name, f"{json_count} <> {typed_count}"))
    if isinstance(t, dict):
        for key, sub in t.items():
            sub_typed = (
                f'list_transform({typed}, lambda x: x."{key}")' if wild else f'({typed})."{key}"'
            )
            checks += _leaf_checks(f"{name}.{key}", sub, f"{json_path}.{key}", sub_typed, wild)
    elif isinstance(t, list):
        elem = t[0]
        # A list inside a list: flatten one level on both sides.
        inner = f"flatten({typed})" if wild else typed
        checks += _leaf_checks(f"{name}[]", elem, f"{json_path}[*]", inner, True)
    return checks


def _json_check_sql(spec: SourceSpec) -> tuple[str, str]:
    """SQL naming the first wrong-typed field, and SQL naming the first missing required one."""
    checks: list[tuple[str, str]] = []
    for col in spec.columns:
        checks += _leaf_checks(
            col.source, col.type, f'$."{col.source}"', f't."{col.source}"', False
        )
    wrong = "CASE " + " ".join(f"WHEN {cond} THEN {_sql_str(label)}" for label, cond in checks)
    wrong += " END"
    if spec.required:
        missing = (
            "CASE "
            + " ".join(
                f'WHEN t."{c.source}" IS NULL THEN {_sql_str(c.source)}' for c in spec.required
            )
            + " END"
        )
    else:
        missing = "NULL"
    return wrong, missing


def _stage_jsonl(
    conn: duckdb.DuckDBPyConnection, spec: SourceSpec, files: list[Path], result: LoadResult
) -> None:
    structure = _sql_str(json_structure(spec.columns))
    wrong_sql, missing_sql = _json_check_sql(spec)
    select = ", ".join(f't."{c.source}" AS "{c.name}"' for c in spec.columns)

    for batch in _batches(files, result):
        conn.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _lines AS
            SELECT filename AS _source_file, line_no AS _source_line, line,
                   json_valid(line) AS is_json
            FROM ({_numbered_lines_sql(batch)})
            """
        )
        conn.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _typed AS
            SELECT _source_file, _source_line, line, is_json,
                   CASE WHEN is_json THEN json_transform(line, {structure}) END AS t,
                   is_json AND try(json_transform_strict(line, {structure})) IS NOT NULL
                       AS strict_ok
            FROM _lines
            """
        )
        conn.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _checked AS
            SELECT *,
                   CASE WHEN is_json AND NOT strict_ok THEN {wrong_sql} END AS wrong_field,
                   CASE WHEN is_json THEN {missing_sql} END AS missing_field
            FROM _typed
            """
        )
        conn.execute(
            f"""
            INSERT INTO _stage
            SELECT {select}, _source_file, _source_line
            FROM _checked
            WHERE is_json AND wrong_field IS NULL AND missing_field IS NULL
            """
        )
        conn.execute(
            """
            INSERT INTO _stage_rejects
            SELECT _source_file, _source_line,
                   CASE WHEN NOT is_json THEN NULL
                        ELSE coalesce(wrong_field, missing_field) END,
                   CASE WHEN NOT is_json THEN 'malformed'
                        WHEN wrong_field IS NOT NULL THEN 'wrong_type'
                        ELSE 'missing_required' END,
                   CASE WHEN NOT is_json THEN 'malformed: not a valid JSON object'
                        WHEN wrong_field IS NOT NULL
                            THEN 'wrong_type: field ' || wrong_field
                                 || ' has a value of the wrong type'
                        ELSE 'missing_required: required field ' || missing_field
                             || ' is missing or null' END,
                   left(line, 2000)
            FROM _checked
            WHERE NOT is_json OR wrong_field IS NOT NULL OR missing_field IS NOT NULL
            """
        )
        for tmp in ("_lines", "_typed", "_checked"):
            conn.execute(f"DROP TABLE IF EXISTS {tmp}")


# --------------------------------------------------------------------------- phones


def _expr(spec: SourceSpec, column: str) -> str:
    return dict(spec.derived).get(column, f's."{column}"')


def _phone_pairs_sql(spec: SourceSpec, default_region: str) -> list[tuple[str, str]]:
    """(key SQL, region SQL) over alias ``s`` for each phone field."""
    out = []
    for p in spec.phones:
        key = _PHONE_KEY_SQL.format(expr=_expr(spec, p.column))
        region = f"upper(coalesce(nullif(trim({p.region_sql}), ''), {_sql_str(default_region)}))"
        out.append((key, region))
    return out


def _update_phone_cache(
    conn: duckdb.DuckDBPyConnection, spec: SourceSpec, default_region: str
) -> tuple[int, int]:
    """Parse the distinct (number, region) pairs not cached yet; returns (parsed, invalid).

    Pairs are parsed in chunks so memory stays flat on a first backfill that
    meets a million numbers; one process pool serves all chunks.
    """
    if not spec.phones:
        return 0, 0
    unions = " UNION ".join(
        f"SELECT DISTINCT {key} AS key, {region} AS default_region FROM _stage s"
        for key, region in _phone_pairs_sql(spec, default_region)
    )
    conn.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _new_phones AS
        SELECT row_number() OVER (ORDER BY n.key, n.default_region) AS i, n.key, n.default_region
        FROM ({unions}) n
        WHERE n.key IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM {META}.phone_cache c
                          WHERE c.key = n.key AND c.default_region = n.default_region)
        """
    )
    total = conn.execute("SELECT count(*) FROM _new_phones").fetchone()[0]
    invalid = 0
    pool = phones.parser_pool() if total >= phones.PARALLEL_THRESHOLD else None
    try:
        for lo in range(0, total, _PHONE_CHUNK):
            pairs = conn.execute(
                "SELECT key, default_region FROM _new_phones WHERE i > ? AND i <= ? ORDER BY i",
                [lo, lo + _PHONE_CHUNK],
            ).fetchall()
            parsed = phones.parse_many(pairs, pool)
            invalid += sum(not p.is_valid for p in parsed)
            frame = pd.DataFrame(
                {
                    "key": [k for k, _ in pairs],
                    "default_region": [r for _, r in pairs],
                    "e164": [p.e164 for p in parsed],
                    "is_valid": [p.is_valid for p in parsed],
                    "region": [p.region for p in parsed],
                    "number_type": [p.number_type for p in parsed],
                    "error": [p.error for p in parsed],
                }
            )
            conn.register("_parsed_phones", frame)
            conn.execute(f"INSERT INTO {META}.phone_cache SELECT * FROM _parsed_phones")
            conn.unregister("_parsed_phones")
    finally:
        if pool is not None:
            pool.shutdown()
    conn.execute("DROP TABLE IF EXISTS _new_phones")
    return total, invalid


# --------------------------------------------------------------------------- final insert


def _partition_of(spec: SourceSpec, file_column: str) -> str:
    """SQL for a row's delivery day: the date folder its file sits in."""
    return faults.delivery_day_sql(file_column) if spec.partitioned else "NULL::DATE"


def _final_select(spec: SourceSpec, default_region: str) -> str:
    pairs = _phone_pairs_sql(spec, default_region)
    cols = [f's."{c.name}"' for c in spec.columns]
    cols += [f'{sql} AS "{name}"' for name, sql in spec.derived]
    joins = []
    for i, (p, (key, region)) in enumerate(zip(spec.phones, pairs, strict=True)):
        alias = f"pc{i}"
        cols += [
            f'{alias}.e164 AS "{p.column}_e164"',
            f'coalesce({alias}.is_valid, false) AS "{p.column}_is_valid"',
            f'{alias}.region AS "{p.column}_region"',
            f'{alias}.number_type AS "{p.column}_type"',
        ]
        joins.append(
            f"LEFT JOIN {META}.phone_cache {alias} "
            f"ON {alias}.key = {key} AND {alias}.default_region = {region}"
        )
    for e in spec.emails:
        cols.append(f"nullif(lower(trim({_expr(spec, e)})), '') AS \"{e}_normalized\"")
    partition = _partition_of(spec, "s._source_file")
    cols += [
        "s._source_file",
        "s._source_line",
        f"{partition} AS _partition_date",
        "current_timestamp::TIMESTAMP AS _loaded_at",
    ]
    return f"SELECT {', '.join(cols)} FROM _stage s {' '.join(joins)}"


def _ensure_raw_table(conn: duckdb.DuckDBPyConnection, spec: SourceSpec, select: str) -> None:
    table = f'{RAW}."{spec.entity}"'
    if not _table_exists(conn, RAW, spec.entity):
        conn.execute(f"CREATE TABLE {table} AS {select} LIMIT 0")
        return
    # A newer spec may add columns; add them rather than fail an old warehouse.
    have = {
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [RAW, spec.entity],
        ).fetchall()
    }
    described = conn.execute(f"DESCRIBE {select} LIMIT 0").fetchall()
    for name, col_type, *_ in described:
        if name not in have:
            conn.execute(f'ALTER TABLE {table} ADD COLUMN "{name}" {col_type}')


# --------------------------------------------------------------------------- entry point


def load(
    conn: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    landing_root: Path,
    start: date | None = None,
    end: date | None = None,
    default_region: str | None = None,
    today: date | None = None,
    first_day: date | None = None,
) -> LoadResult:
    """Load ``spec``'s files for delivery days ``[start, end]`` (or its snapshot file).

    Replaces exactly the rows and rejects of those days: rows of other days,
    and other tables, are not touched. Day folders after ``today`` (UTC by default)
    are not read; what is not read is listed in ``result.skipped`` (``first_day``,
    the first partition, only sharpens that report).
    """
    began = time.perf_counter()
    if spec.partitioned and (start is None or end is None):
        raise ValueError(f"{spec.entity} is partitioned: give start and end days")
    default_region = (default_region or os.environ.get("SMS_DEFAULT_PHONE_REGION", "US")).upper()
    result = LoadResult(
        spec.entity, start if spec.partitioned else None, end if spec.partitioned else None
    )
    codec = landing.encoding_for(spec)
    files = list_files(landing_root, spec, start, end, today)
    result.files = [str(p) for p in files]
    result.skipped = landing.skipped_entries(landing_root, spec, today, first_day)

    tables.ensure_tables(conn)
    for needed in spec.needs:
        if (
            not _table_exists(conn, RAW, needed)
            or not conn.execute(f'SELECT count(*) FROM {RAW}."{needed}"').fetchone()[0]
        ):
            raise MissingReferenceError(
                f"{spec.entity} needs {RAW}.{needed} (for example the country of each "
                f"store, to read phones typed at its till): materialize {RAW}/{needed} first"
            )

    conn.execute(
        "CREATE OR REPLACE TEMP TABLE _stage AS SELECT "
        + ", ".join(f'NULL::{duckdb_type(c.type)} AS "{c.name}"' for c in spec.columns)
        + ", NULL::VARCHAR AS _source_file, NULL::BIGINT AS _source_line LIMIT 0"
    )
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE _stage_rejects (source_file VARCHAR, line BIGINT, "
        "column_name VARCHAR, error_type VARCHAR, reason VARCHAR, raw_line VARCHAR)"
    )
    with tempfile.TemporaryDirectory(prefix="sms-ingest-") as work:
        prepared = landing.prepare(
            files, spec, codec, Path(work), landing_root, on_missing_column=_missing(spec)
        )
        if not spec.partitioned:
            landing.require_snapshot(spec, files, prepared)
        if prepared.read:
            (_stage_csv if spec.format == "csv" else _stage_jsonl)(
                conn, spec, prepared.read, result
            )
        _restore_paths(conn, prepared.origin, result)
    result.empty_files = prepared.empty
    result.no_row_files = prepared.no_rows
    result.quarantined_files = prepared.faults
    # ``files`` are the files read: one quarantined whole was not (and a consent file of
    # that kind must not count as loaded: it may hold an opt-out).
    unread = {f.path for f in prepared.faults}
    result.files = [f for f in result.files if f not in unread]
    result.encodings = prepared.encodings
    result.rows_quarantined = faults.quarantine_rows(conn, spec)
    if prepared.faults:
        conn.executemany(
            "INSERT INTO _stage_rejects VALUES (?, NULL, NULL, ?, ?, ?)",
            [[f.path, f.error_type, f.reason, f.first_line] for f in prepared.faults],
        )

    result.phones_parsed, result.phones_invalid = _update_phone_cache(conn, spec, default_region)
    select = _final_select(spec, default_region)
    _ensure_raw_table(conn, spec, select)

    table = f'{RAW}."{spec.entity}"'
    partition_of_file = _partition_of(spec, "source_file")
    conn.execute("BEGIN TRANSACTION")
    try:
        if spec.partitioned:
            conn.execute(f"DELETE FROM {table} WHERE _partition_date BETWEEN ? AND ?", [start, end])
            conn.execute(
                f"DELETE FROM {META}.rejects WHERE entity = ? AND partition_date BETWEEN ? AND ?",
                [spec.entity, start, end],
            )
        else:
            conn.execute(f"DELETE FROM {table}")
            conn.execute(f"DELETE FROM {META}.rejects WHERE entity = ?", [spec.entity])
        conn.execute(f"INSERT INTO {table} BY NAME {select}")
        conn.execute(
            f"""
            INSERT INTO {META}.rejects
            SELECT ?, {partition_of_file}, source_file, line, column_name, error_type, reason,
                   raw_line, current_timestamp::TIMESTAMP
            FROM _stage_rejects
            """,
            [spec.entity],
        )
        result.rows_loaded = conn.execute("SELECT count(*) FROM _stage").fetchone()[0]
        result.rows_rejected = conn.execute("SELECT count(*) FROM _stage_rejects").fetchone()[0]
        result.seconds = time.perf_counter() - began
        conn.execute(
            f"INSERT INTO {META}.load_log "
            "VALUES (?, ?, ?, ?, ?, ?, ?, current_timestamp::TIMESTAMP)",
            [
                spec.entity,
                result.start,
                result.end,
                len(files),
                result.rows_loaded,
                result.rows_rejected,
                result.seconds,
            ],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise

    result.rejects_by_reason = dict(
        conn.execute(
            "SELECT error_type || coalesce(' (' || column_name || ')', ''), count(*) "
            "FROM _stage_rejects GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    )
    preview = conn.execute(
        "SELECT source_file, line, column_name, reason FROM _stage_rejects "
        "ORDER BY source_file, line LIMIT 5"
    ).fetchall()
    result.reject_preview = [
        {"file": os.path.relpath(f, landing_root), "line": ln, "column": c, "reason": r}
        for f, ln, c, r in preview
    ]
    if spec.partitioned:
        result.rows_per_day = {
            str(d): n
            for d, n in conn.execute(
                f"""SELECT {_partition_of(spec, "s._source_file")} AS d,
                           count(*) FROM _stage s GROUP BY 1 ORDER BY 1"""
            ).fetchall()
        }
    conn.execute("DROP TABLE IF EXISTS _stage")
    conn.execute("DROP TABLE IF EXISTS _stage_rejects")
    if spec.partitioned:
        result.redelivered = faults.redelivered(conn, spec, start, end)
    result.seconds = time.perf_counter() - began
    return result


def _missing(spec: SourceSpec):
    def fail(path: Path, column: str, header: list[str]) -> None:
        raise MissingColumnError(spec.entity, path, column, header)

    return fail


def _restore_paths(
    conn: duckdb.DuckDBPyConnection, origin: dict[str, str], result: LoadResult
) -> None:
    """Rows and rejects read from a UTF-8 copy name the file as it was delivered."""
    if not origin:
        return
    conn.execute("CREATE OR REPLACE TEMP TABLE _origin (copy VARCHAR, delivered VARCHAR)")
    conn.executemany("INSERT INTO _origin VALUES (?, ?)", [list(kv) for kv in origin.items()])
    conn.execute(
        "UPDATE _stage SET _source_file = o.delivered FROM _origin o "
        "WHERE _stage._source_file = o.copy"
    )
    conn.execute(
        "UPDATE _stage_rejects SET source_file = o.delivered FROM _origin o "
        "WHERE _stage_rejects.source_file = o.copy"
    )
    conn.execute("DROP TABLE _origin")
    for name, paths in result.extra_columns.items():
        result.extra_columns[name] = [origin.get(p, p) for p in paths]


def load_summary(conn: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Rows per raw table and rejects per entity and reason (for the demo's closing summary)."""
    tables = [
        r[0]
        for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1",
            [RAW],
        ).fetchall()
    ]
    rows = {t: conn.execute(f'SELECT count(*) FROM {RAW}."{t}"').fetchone()[0] for t in tables}
    rejects = []
    if _table_exists(conn, META, "rejects"):
        rejects = conn.execute(
            f"""SELECT entity, error_type, coalesce(column_name, '-'), count(*)
                FROM {META}.rejects GROUP BY ALL ORDER BY 1, 4 DESC"""
        ).fetchall()
    return {"rows": rows, "rejects": rejects}


def column_descriptions(spec: SourceSpec) -> dict[str, str]:
    """Descriptions for the raw table's columns, for the asset's column schema."""
    out: dict[str, str] = {
        c.name: c.description or f"{c.source!r} as delivered" for c in spec.columns
    }
    for name, _ in spec.derived:
        out[name] = "Flattened from the nested object for joins."
    for p in spec.phones:
        out[f"{p.column}_e164"] = f"{p.column} in E.164 (phonenumbers), NULL if unparseable."
        out[f"{p.column}_is_valid"] = f"Whether {p.column} is a valid number for its region."
        out[f"{p.column}_region"] = f"Region (ISO alpha-2) {p.column} belongs to."
        out[f"{p.column}_type"] = "mobile, fixed_line, fixed_line_or_mobile, voip, ..."
    for e in spec.emails:
        out[f"{e}_normalized"] = f"{e} trimmed and lower-cased."
    out["_source_file"] = "Landing file the row came from."
    out["_source_line"] = "Line in that file (JSON sources)."
    out["_partition_date"] = "Delivery day (landing folder) = Dagster partition."
    out["_loaded_at"] = "When the row was loaded."
    return out


__all__ = [
    "Column",
    "LoadResult",
    "MissingColumnError",
    "MissingReferenceError",
    "day_folders",
    "list_files",
    "load",
    "load_summary",
]
