"""Reading JSON-lines landing files into the load's stage, typed by the source's JSON structure.

A line that is not JSON, has a field of the wrong type or misses a required field becomes a
reject naming file, line and field; the other lines are typed with ``json_transform`` into
``_stage`` (created by ``stage``).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from dagster_project.ingest.lines import batches, numbered_lines_sql, sql_str
from dagster_project.ingest.specs import JsonType, SourceSpec, json_structure


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
            f"len(list_filter(json_extract(line, {sql_str(json_path)}), "
            f"lambda x: json_type(x) <> 'NULL'))"
        )
        typed_count = f"len(list_filter({typed}, lambda x: x IS NOT NULL))"
    else:
        jx = f"json_extract(line, {sql_str(json_path)})"
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
    wrong = "CASE " + " ".join(f"WHEN {cond} THEN {sql_str(label)}" for label, cond in checks)
    wrong += " END"
    if spec.required:
        missing = (
            "CASE "
            + " ".join(
                f'WHEN t."{c.source}" IS NULL THEN {sql_str(c.source)}' for c in spec.required
            )
            + " END"
        )
    else:
        missing = "NULL"
    return wrong, missing


def stage(conn: duckdb.DuckDBPyConnection, spec: SourceSpec, files: list[Path]) -> None:
    """Read JSON-lines files into ``_stage`` / ``_stage_rejects``, every row with its line."""
    structure = sql_str(json_structure(spec.columns))
    wrong_sql, missing_sql = _json_check_sql(spec)
    select = ", ".join(f't."{c.source}" AS "{c.name}"' for c in spec.columns)

    for batch in batches(files):
        conn.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _lines AS
            SELECT filename AS _source_file, line_no AS _source_line, line,
                   json_valid(line) AS is_json
            FROM ({numbered_lines_sql(batch)})
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
