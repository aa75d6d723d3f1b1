"""Phone numbers of a load, parsed once: the cache of parses and the SQL that joins it.

Each distinct (number, default region) pair not seen before is parsed with ``phonenumbers``
(``lib/phones``) and kept in ``ingest.phone_cache``; the raw tables join the cache instead of
parsing a number again on every load.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from dagster_project.ingest import tables
from dagster_project.ingest.lines import sql_str
from dagster_project.ingest.specs import SourceSpec
from dagster_project.lib import phones

META = tables.META

# Characters libphonenumber ignores; dropping them first lets one parse serve
# every way a number was punctuated. The parse itself is phonenumbers'.
_PHONE_KEY_SQL = "nullif(regexp_replace(trim({expr}), '[\\s().\\-/]', '', 'g'), '')"
# Phone numbers parsed per chunk (Python objects per chunk stay in the tens of MB).
_PHONE_CHUNK = 200_000


def column_sql(spec: SourceSpec, column: str) -> str:
    return dict(spec.derived).get(column, f's."{column}"')


def pairs_sql(spec: SourceSpec, default_region: str) -> list[tuple[str, str]]:
    """(key SQL, region SQL) over alias ``s`` for each phone field."""
    out = []
    for p in spec.phones:
        key = _PHONE_KEY_SQL.format(expr=column_sql(spec, p.column))
        region = f"upper(coalesce(nullif(trim({p.region_sql}), ''), {sql_str(default_region)}))"
        out.append((key, region))
    return out


def update(
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
        for key, region in pairs_sql(spec, default_region)
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


def joined_columns(spec: SourceSpec, default_region: str) -> tuple[list[str], list[str]]:
    """(select columns, LEFT JOINs) that add each phone field's cached parse to stage ``s``."""
    cols, joins = [], []
    for i, (p, (key, region)) in enumerate(
        zip(spec.phones, pairs_sql(spec, default_region), strict=True)
    ):
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
    return cols, joins
