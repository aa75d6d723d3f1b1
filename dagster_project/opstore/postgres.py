"""The operational store on PostgreSQL, behind the few calls of a DuckDB connection the
ledger code makes: ``execute(sql, params)`` then ``fetchall``/``fetchone``/``df``, and
``register(name, frame)`` to join a pandas frame.

One body of SQL then serves both stores. The SQL the ledger uses is the common subset of
the two dialects (``UPDATE … FROM``, ``INSERT … ON CONFLICT``, ``IS DISTINCT FROM``); the
differences are bridged here and nowhere else:

* ``?`` placeholders become psycopg's ``%s`` (and a literal ``%`` is escaped);
* a registered frame becomes a temporary table filled by ``COPY``. A column named like a
  column of the store's ``sms`` tables takes that column's type (a frame of all-NULL
  timestamps is still a timestamp); other columns take the type of their values;
* a statement without a result returns its row count as DuckDB does (``[(n,)]``);
* ``df()`` gives DuckDB's column types: timestamps and dates as ``datetime64``, integers
  and booleans nullable.

Sessions run in UTC with autocommit, so ``BEGIN TRANSACTION`` / ``COMMIT`` in the ledger
code mean what they mean on DuckDB.
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import psycopg

# PostgreSQL type OIDs whose values ``df`` converts to DuckDB's pandas types.
_DATETIME_OIDS = {1082, 1114, 1184}  # date, timestamp, timestamptz
_INT_OIDS = {20, 21, 23}  # int8, int2, int4
_FLOAT_OIDS = {700, 701, 1700}  # float4, float8, numeric
_BOOL_OIDS = {16}
_PLACEHOLDER = re.compile(r"\?")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Application name in pg_stat_activity, so an operator sees who holds a lock.
APPLICATION_NAME = "sms-lifecycle"


def connect(dsn: str = "", *, application: str = APPLICATION_NAME) -> PgConnection:
    """Open the store; an empty ``dsn`` takes libpq's environment (PGHOST, PGPORT, PGUSER,
    PGPASSWORD, PGDATABASE, or a service file)."""
    raw = psycopg.connect(dsn, autocommit=True, application_name=application)
    raw.execute("SET TIME ZONE 'UTC'")
    return PgConnection(raw)


def _sql_type(name: str, values: pd.Series, known: dict[str, str]) -> str:
    if name in known:
        return known[name]
    kind = values.dtype
    if pd.api.types.is_bool_dtype(kind):
        return "boolean"
    if pd.api.types.is_integer_dtype(kind):
        return "bigint"
    if pd.api.types.is_float_dtype(kind):
        return "double precision"
    if pd.api.types.is_datetime64_any_dtype(kind):
        return "timestamptz" if getattr(kind, "tz", None) is not None else "timestamp"
    present = values.dropna()
    sample = present.iloc[0] if len(present) else None
    if isinstance(sample, bool | np.bool_):
        return "boolean"
    if isinstance(sample, int | np.integer):
        return "bigint"
    if isinstance(sample, float | np.floating | decimal.Decimal):
        return "double precision"
    if isinstance(sample, dt.datetime):
        return "timestamptz" if sample.tzinfo is not None else "timestamp"
    if isinstance(sample, dt.date):
        return "date"
    return "text"


_INT_TYPES = {"integer", "bigint", "smallint"}


def _python_values(values: pd.Series, *, integral: bool = False) -> list:
    """Plain Python values for COPY: None for every kind of missing; for an integer column,
    whole floats as integers (pandas keeps an integer column with a gap as floats)."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return [None if v is pd.NaT else v.to_pydatetime() for v in values]
    out = []
    for v in values.astype(object).tolist():
        if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
            out.append(None)
            continue
        if isinstance(v, np.generic):
            v = v.item()
        if integral and isinstance(v, float):
            if not v.is_integer():
                raise ValueError(f"{values.name}: {v} is not a whole number")
            v = int(v)
        out.append(v)
    return out


class PgConnection:
    """A psycopg connection answering the calls the ledger code makes of a DuckDB one."""

    dialect = "postgres"

    def __init__(self, raw: psycopg.Connection) -> None:
        self.raw = raw
        self._cursor: psycopg.Cursor | None = None
        self._count: int | None = None
        self._types: dict[str, str] | None = None

    # -- statements -------------------------------------------------------------------
    def execute(self, sql: str, params: Sequence | None = None) -> PgConnection:
        cursor = self.raw.cursor()
        if params:
            sql = _PLACEHOLDER.sub("%s", sql.replace("%", "%%"))
            cursor.execute(sql, [_param(p) for p in params])
        else:
            cursor.execute(sql)
        self._cursor = cursor
        self._count = None if cursor.description is not None else cursor.rowcount
        return self

    def fetchall(self) -> list[tuple]:
        if self._count is not None:
            return [(self._count,)]
        return self._cursor.fetchall() if self._cursor else []

    def fetchone(self) -> tuple | None:
        if self._count is not None:
            return (self._count,)
        return self._cursor.fetchone() if self._cursor else None

    def df(self) -> pd.DataFrame:
        cursor = self._cursor
        if cursor is None or cursor.description is None:
            return pd.DataFrame()
        columns = [d.name for d in cursor.description]
        frame = pd.DataFrame.from_records(cursor.fetchall(), columns=columns)
        for d in cursor.description:
            if d.type_code in _DATETIME_OIDS:
                values = pd.to_datetime(frame[d.name], utc=d.type_code == 1184)
                if d.type_code == 1184:
                    values = values.dt.tz_convert(None)
                frame[d.name] = values.astype("datetime64[us]")
            elif d.type_code in _INT_OIDS:
                frame[d.name] = frame[d.name].astype("Int64")
            elif d.type_code in _FLOAT_OIDS:
                frame[d.name] = frame[d.name].astype("float64")
            elif d.type_code in _BOOL_OIDS:
                frame[d.name] = frame[d.name].astype("boolean")
        return frame

    # -- frames -----------------------------------------------------------------------
    def register(self, name: str, frame: pd.DataFrame) -> None:
        """``frame`` as a temporary table ``name`` for the statements that follow."""
        if not _NAME.match(name):
            raise ValueError(f"not a plain table name: {name!r}")
        known = self._store_types(frame.columns)
        columns = [str(c) for c in frame.columns]
        for c in columns:
            if not _NAME.match(c):
                raise ValueError(f"not a plain column name: {c!r}")
        types = {c: _sql_type(c, frame[c], known) for c in columns}
        definition = ", ".join(f"{c} {kind}" for c, kind in types.items())
        self.raw.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")
        self.raw.execute(f"CREATE TEMP TABLE {name} ({definition})")
        if len(frame):
            data = [_python_values(frame[c], integral=types[c] in _INT_TYPES) for c in columns]
            with self.raw.cursor().copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in zip(*data, strict=True):
                    copy.write_row(row)

    def unregister(self, name: str) -> None:
        if not _NAME.match(name):
            raise ValueError(f"not a plain table name: {name!r}")
        self.raw.execute(f"DROP TABLE IF EXISTS pg_temp.{name}")

    def _store_types(self, wanted) -> dict[str, str]:
        """Types of the ``sms`` tables' columns by name (read once per connection, again
        when a frame names a column not seen yet: the schema may have been created since)."""
        if self._types is None or any(str(c) not in self._types for c in wanted):
            rows = self.raw.execute(
                "SELECT column_name, format_type(a.atttypid, a.atttypmod) "
                "FROM information_schema.columns AS c "
                "JOIN pg_attribute AS a ON a.attrelid = "
                "  (quote_ident(c.table_schema) || '.' || quote_ident(c.table_name))::regclass "
                " AND a.attname = c.column_name "
                "WHERE c.table_schema = 'sms' AND c.table_name IN ('ledger', 'links', "
                "'journey_entries')"
            ).fetchall()
            self._types = {name: kind for name, kind in rows}
        return self._types

    def close(self) -> None:
        self.raw.close()

    def __enter__(self) -> PgConnection:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _param(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value
