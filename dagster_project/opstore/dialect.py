"""Which store a connection is: the one question the store-neutral code asks of it."""


def is_postgres(conn) -> bool:
    """A PostgreSQL store connection (``postgres.PgConnection``); otherwise DuckDB."""
    return getattr(conn, "dialect", "duckdb") == "postgres"
