"""The operational store's tables, created on either store: the send ledger and its
tracked links, journey state, and on PostgreSQL the change capture the warehouse's sync
reads, the claim index and the shared send rates.

One owner for the schema, so the ledger code, the journeys, the claims and the sync
read the same definitions. The embedded store creates the plain tables in the
warehouse file; PostgreSQL also gets, once per schema version and under an advisory
lock (workers starting together create it once): the workers' lease columns, the
change-capture triggers (``sync``), the claim index (``claims``) and ``sms.send_rates``
(``rate``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from dagster_project.opstore import rate
from dagster_project.opstore.dialect import is_postgres

LEDGER_DDL = """
CREATE SCHEMA IF NOT EXISTS sms;
CREATE TABLE IF NOT EXISTS sms.ledger (
    message_key VARCHAR PRIMARY KEY,
    campaign_id VARCHAR NOT NULL,
    plan_day DATE NOT NULL,
    customer_id VARCHAR NOT NULL,
    variant VARCHAR,
    kind VARCHAR NOT NULL,
    state VARCHAR NOT NULL,
    step VARCHAR NOT NULL,
    reason VARCHAR,
    phone_e164 VARCHAR,
    time_zone VARCHAR,
    country VARCHAR,
    sender VARCHAR,
    language VARCHAR,
    body VARCHAR,
    encoding VARCHAR,
    segments INTEGER,
    cost_usd DOUBLE PRECISION,
    opt_in_event_id VARCHAR,
    opt_in_source VARCHAR,
    opt_in_text_version VARCHAR,
    candidate_zones VARCHAR,
    zone_source VARCHAR,
    send_regions VARCHAR,
    scheduled_at TIMESTAMP,
    window_ends_at TIMESTAMP,
    expires_at TIMESTAMP,
    planned_at TIMESTAMP NOT NULL,
    sending_at TIMESTAMP,
    final_at TIMESTAMP,
    provider_message_id VARCHAR,
    error_code VARCHAR,
    error VARCHAR,
    outcome VARCHAR,
    attempts INTEGER DEFAULT 0,
    run_id VARCHAR
);
CREATE TABLE IF NOT EXISTS sms.links (
    token VARCHAR PRIMARY KEY,
    message_key VARCHAR NOT NULL,
    target_url VARCHAR NOT NULL,
    created_at TIMESTAMP NOT NULL
);
"""

# Added after the first release: a ledger made before them gains them on ``ensure``.
ADDED_COLUMNS = {
    "candidate_zones": "VARCHAR",
    "zone_source": "VARCHAR",
    "send_regions": "VARCHAR",
    "window_ends_at": "TIMESTAMP",
    "expires_at": "TIMESTAMP",
    # A journey's message: the entry (its triggering event) and the step that sent it.
    "journey_entry": "VARCHAR",
    "journey_step": "VARCHAR",
}
# Only in a PostgreSQL store: the lease of the dispatch worker holding a message it is
# sending, and the dispatch run that re-checked it and let it go (``opstore.claims``).
POSTGRES_COLUMNS = {
    "dispatch_run": "VARCHAR",
    "lease_owner": "VARCHAR",
    "lease_until": "TIMESTAMP",
}

JOURNEY_DDL = """
CREATE SCHEMA IF NOT EXISTS sms;
CREATE TABLE IF NOT EXISTS sms.journey_entries (
    journey_id VARCHAR NOT NULL,
    customer_id VARCHAR NOT NULL,
    entry_key VARCHAR NOT NULL,
    entered_at TIMESTAMP NOT NULL,
    arm VARCHAR NOT NULL,
    status VARCHAR NOT NULL,
    position INTEGER NOT NULL,
    next_step VARCHAR,
    due_at TIMESTAMP,
    waiting_since TIMESTAMP,
    exit_reason VARCHAR,
    history VARCHAR NOT NULL,
    anchor VARCHAR NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    run_id VARCHAR,
    PRIMARY KEY (journey_id, customer_id, entry_key)
);
"""

# The claimable rows of a dispatch run in claim order (``claims.CLAIM_SQL``).
CLAIM_INDEX_DDL = """
CREATE INDEX IF NOT EXISTS ledger_claim ON sms.ledger (dispatch_run, scheduled_at, message_key)
WHERE state IN ('planned', 'deferred')
"""

# One advisory lock for schema changes: workers starting together create it once.
_SCHEMA_LOCK = 7_215_340_001

CAPTURE_DDL = """
CREATE TABLE IF NOT EXISTS sms._deleted (
    table_name TEXT NOT NULL,
    key JSONB NOT NULL,
    _xid XID8 NOT NULL DEFAULT pg_current_xact_id()
);
CREATE INDEX IF NOT EXISTS _deleted_xid ON sms._deleted (_xid);
CREATE TABLE IF NOT EXISTS sms._schema (name TEXT PRIMARY KEY, version INTEGER NOT NULL);
CREATE OR REPLACE FUNCTION sms._stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW._xid := pg_current_xact_id();
    RETURN NEW;
END $$;
CREATE OR REPLACE FUNCTION sms._tombstone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sms._deleted (table_name, key)
    SELECT TG_TABLE_NAME, jsonb_object_agg(k, to_jsonb(OLD) -> k)
    FROM unnest(TG_ARGV) AS k;
    RETURN OLD;
END $$;
"""


@contextmanager
def schema_lock(conn, name: str, version: int = 1) -> Iterator[bool]:
    """Serialises schema creation among processes; yields whether ``name`` is below
    ``version`` (and records it at ``version`` when the block succeeds)."""
    if _version(conn, name) >= version:
        yield False
        return
    conn.execute("BEGIN")
    try:
        conn.execute(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
        conn.execute("CREATE SCHEMA IF NOT EXISTS sms")
        conn.execute(CAPTURE_DDL)
        fresh = _version(conn, name) < version
        yield fresh
        if fresh:
            conn.execute(
                "INSERT INTO sms._schema VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET version = excluded.version",
                [name, version],
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _version(conn, name: str) -> int:
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = 'sms' AND table_name = '_schema'"
    ).fetchall()[0][0]
    if not exists:
        return 0
    row = conn.execute("SELECT version FROM sms._schema WHERE name = ?", [name]).fetchone()
    return row[0] if row else 0


def capture(conn, table: str, key: Sequence[str]) -> None:
    """Stamp ``sms.<table>``'s writes and keep tombstones of its deletes (idempotent)."""
    conn.execute(
        f"ALTER TABLE sms.{table} ADD COLUMN IF NOT EXISTS _xid XID8 "
        "NOT NULL DEFAULT pg_current_xact_id()"
    )
    conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_xid ON sms.{table} (_xid)")
    conn.execute(f"DROP TRIGGER IF EXISTS _stamp ON sms.{table}")
    conn.execute(
        f"CREATE TRIGGER _stamp BEFORE INSERT OR UPDATE ON sms.{table} "
        "FOR EACH ROW EXECUTE FUNCTION sms._stamp()"
    )
    conn.execute(f"DROP TRIGGER IF EXISTS _tombstone ON sms.{table}")
    args = ", ".join(f"'{k}'" for k in key)
    conn.execute(
        f"CREATE TRIGGER _tombstone AFTER DELETE ON sms.{table} "
        f"FOR EACH ROW EXECUTE FUNCTION sms._tombstone({args})"
    )


def ensure_ledger(conn) -> None:
    """``sms.ledger`` and ``sms.links`` (with, on PostgreSQL, what the workers and the
    sync need)."""
    if is_postgres(conn):
        with schema_lock(conn, "ledger", version=2) as fresh:  # 2: the claim index
            if fresh:
                _create_ledger(conn, {**ADDED_COLUMNS, **POSTGRES_COLUMNS})
                conn.execute(
                    "CREATE INDEX IF NOT EXISTS ledger_due ON sms.ledger (state, scheduled_at)"
                )
                conn.execute(
                    "CREATE INDEX IF NOT EXISTS ledger_dispatch ON sms.ledger (dispatch_run, state)"
                )
                conn.execute(CLAIM_INDEX_DDL)
                capture(conn, "ledger", ["message_key"])
                capture(conn, "links", ["token"])
                rate.ensure(conn)
        return
    _create_ledger(conn, ADDED_COLUMNS)


def _create_ledger(conn, added: dict[str, str]) -> None:
    conn.execute(LEDGER_DDL)
    for column, kind in added.items():
        conn.execute(f"ALTER TABLE sms.ledger ADD COLUMN IF NOT EXISTS {column} {kind}")


def ensure_journeys(conn) -> None:
    """``sms.journey_entries``, beside the ledger it is saved with."""
    ensure_ledger(conn)
    if is_postgres(conn):
        with schema_lock(conn, "journey_entries") as fresh:
            if fresh:
                conn.execute(JOURNEY_DDL)
                capture(conn, "journey_entries", ["journey_id", "customer_id", "entry_key"])
        return
    conn.execute(JOURNEY_DDL)
