"""Test helpers for whichever database a test runs on (SQLite, or PostgreSQL in the second pass
of scripts/test: EBOK_TEST_DATABASE_URL)."""

from __future__ import annotations

import os

import pytest

from ebok.database import Database

# Read once at import: the tests' autouse fixture removes EBOK_* variables from os.environ.
TEST_DATABASE_URL = os.environ.get("EBOK_TEST_DATABASE_URL") or None

sqlite_only = pytest.mark.skipif(
    TEST_DATABASE_URL is not None, reason="about the SQLite file itself"
)


def dump(db: Database) -> str:
    """Every table's name and every row of it as text: what a copy of the database holds."""
    if db.backend == "sqlite":
        return "\n".join(db.connection().iterdump())  # type: ignore[attr-defined]
    tables = [
        row[0]
        for row in db.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() ORDER BY table_name"
        )
    ]
    lines = []
    for table in tables:
        lines.append(f"TABLE {table}")
        lines.extend(repr(row) for row in db.execute(f'SELECT * FROM "{table}"'))
    return "\n".join(lines)


def _admin():
    import psycopg

    return psycopg.connect(TEST_DATABASE_URL, autocommit=True)


def fresh_schema() -> str:
    """A new schema in the test server and a URL whose connections use it (search_path)."""
    import secrets
    from urllib.parse import quote

    assert TEST_DATABASE_URL is not None
    name = f"test_{secrets.token_hex(6)}"
    with _admin() as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    separator = "&" if "?" in TEST_DATABASE_URL else "?"
    return f"{TEST_DATABASE_URL}{separator}options={quote(f'-csearch_path={name}')}"


def drop_schema(url: str) -> None:
    """Drop the schema of `url` after ending the connections EBOK left open (the test's
    pools): they would hold the server's connection slots until garbage-collected."""
    from urllib.parse import unquote

    name = unquote(url.rsplit("options=", 1)[1]).removeprefix("-csearch_path=")
    with _admin() as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'ebok' AND pid <> pg_backend_pid()"
        )
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
