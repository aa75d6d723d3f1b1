"""The operational store: what changes per message and must never be lost or done twice
(the send ledger ``sms.ledger``, tracked links ``sms.links``, journey state
``sms.journey_entries``), apart from the analytical warehouse.

Two implementations, chosen by ``SMS_OPSTORE``:

* ``embedded`` (the default): the tables live in the warehouse's DuckDB file, in schema
  ``sms``, and the store connection *is* the warehouse connection. No server; one
  writer at a time, as DuckDB allows.
* ``postgres``: the tables live in PostgreSQL (``postgres.py``), where many dispatch
  workers claim messages with row locks (``claims.py``) and share each sender's rate
  (``rate.py``). The warehouse keeps a copy of the same tables, refreshed by ``sync.py``
  with what changed since the last sync, so dbt's sources, the gates and the reports
  read ``sms.*`` in the warehouse on either store.

The ledger code is written once against the calls both connections answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dagster_project import settings
from dagster_project.opstore.dialect import is_postgres

__all__ = ["connection", "describe", "external", "is_postgres", "sync_metadata", "sync_warehouse"]


def external() -> bool:
    """Whether the store is a server of its own (so the warehouse needs its copy synced)."""
    return settings.opstore_kind() != "embedded"


@contextmanager
def connection(warehouse_conn=None) -> Iterator:
    """A connection to the operational store: ``warehouse_conn`` itself when embedded,
    otherwise a new PostgreSQL connection, closed on exit."""
    if not external():
        if warehouse_conn is None:
            raise ValueError("the embedded operational store is the warehouse: pass its connection")
        yield warehouse_conn
        return
    from dagster_project.opstore import postgres

    conn = postgres.connect(settings.postgres_dsn())
    try:
        yield conn
    finally:
        conn.close()


def sync_warehouse(store, warehouse_conn):
    """After a write to a PostgreSQL store: what changed, copied into the warehouse's
    ``sms`` tables (``sync.to_warehouse``); ``None`` for the embedded store, which *is*
    the warehouse."""
    if not is_postgres(store):
        return None
    from dagster_project.opstore import sync

    return sync.to_warehouse(store, warehouse_conn)


def sync_metadata(report) -> dict:
    """The sync's figures for an asset's materialization (nothing for the embedded store)."""
    if report is None:
        return {}
    return {
        "store": describe(),
        "synced_rows": report.copied,
        "synced_deletes": sum(report.deleted.values()),
        "sync_seconds": round(report.seconds, 3),
    }


def describe() -> str:
    """Where the store is, for logs and metadata (no password)."""
    if not external():
        return "embedded (the warehouse file)"
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(settings.postgres_dsn())
    host = info.get("host") or "$PGHOST"
    return f"postgres {host}:{info.get('port') or 5432}/{info.get('dbname') or '$PGDATABASE'}"
