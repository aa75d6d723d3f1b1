"""Landing text as DuckDB's readers see it: SQL literals for paths, byte-bounded batches of
files, and the physical lines of files numbered from 1. Shared by the CSV and JSON-lines readers
(``csv_files``, ``jsonl_files``), which must both name the exact line a reject came from.
"""

from __future__ import annotations

from pathlib import Path

# Text read per DuckDB statement; keeps peak memory flat on long backfills.
TEXT_BATCH_BYTES = 256 * 1024 * 1024


def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql_list(paths: list[Path]) -> str:
    return "[" + ", ".join(sql_str(str(p)) for p in paths) + "]"


def batches(files: list[Path]) -> list[list[Path]]:
    """Non-empty files in groups of at most ``TEXT_BATCH_BYTES`` (one text read each).

    An empty file is ``landing.prepare``'s to report; it is only left out here.
    """
    out: list[list[Path]] = [[]]
    size = 0
    for path in files:
        n = path.stat().st_size
        if n == 0:
            continue
        if out[-1] and size + n > TEXT_BATCH_BYTES:
            out.append([])
            size = 0
        out[-1].append(path)
        size += n
    return [b for b in out if b]


def numbered_lines_sql(files: list[Path]) -> str:
    """Physical lines of ``files`` with 1-based line numbers (blank lines dropped)."""
    return f"""
        SELECT filename, line_no, line FROM (
            SELECT filename, generate_subscripts(ls, 1) AS line_no,
                   rtrim(unnest(ls), chr(13)) AS line
            FROM (SELECT filename, string_split(content, chr(10)) AS ls
                  FROM read_text({sql_list(files)}))
        ) WHERE trim(line) <> ''
    """
