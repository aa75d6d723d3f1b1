"""Databases on the tests' PostgreSQL server (``demo/postgres.py``)."""

from __future__ import annotations

import re
import uuid


def new_database(server, label: str) -> str:
    """A fresh, empty database on ``server``, named after ``label``: its DSN."""
    import psycopg

    name = "t_" + re.sub(r"\W", "_", label.lower())[:40] + "_" + uuid.uuid4().hex[:6]
    with psycopg.connect(server.dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.dsn.rsplit("/", 1)[0] + "/" + name
