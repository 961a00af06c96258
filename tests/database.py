"""Test helpers for whichever database a test runs on (SQLite, or PostgreSQL in the second pass
of scripts/test: EBOK_TEST_DATABASE_URL)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

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

    conn = psycopg.connect(TEST_DATABASE_URL, autocommit=True)
    conn.execute("SET lock_timeout = '5s'")
    return conn


def schema_url(name: str) -> str:
    """A URL to the test server whose connections use schema `name` (search_path)."""
    from urllib.parse import quote

    assert TEST_DATABASE_URL is not None
    separator = "&" if "?" in TEST_DATABASE_URL else "?"
    return f"{TEST_DATABASE_URL}{separator}options={quote(f'-csearch_path={name}')}"


def create_schema(name: str) -> None:
    with _admin() as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")
        conn.execute(f"CREATE SCHEMA {name}")


def schema_versions() -> dict[str, int]:
    """How many migrations the code has, per migrated schema (read before any test patches
    them in)."""
    from etl.import_history import MIGRATIONS as IMPORTS
    from portal.accounts.schema import MIGRATIONS as ACCOUNTS

    return {"accounts": len(ACCOUNTS), "imports": len(IMPORTS)}


def reset_schema(name: str, expected: dict[str, int]) -> None:
    """Empty every table of schema `name` for the next test (ids from 1 again); a schema a
    test migrated elsewhere than `expected` (a migration patched in) is made anew, empty."""
    with _admin() as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s"
                " AND table_type = 'BASE TABLE'",
                (name,),
            )
        ]
        versions = {}
        if "schema_versions" in tables:
            versions = dict(conn.execute(f"SELECT name, version FROM {name}.schema_versions"))
        if any(versions.get(key, value) != value for key, value in expected.items()):
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'ebok' AND pid <> pg_backend_pid()"
            )
            conn.execute(f"DROP SCHEMA {name} CASCADE")
            conn.execute(f"CREATE SCHEMA {name}")
            return
        data = [t for t in tables if t != "schema_versions"]
        if data:
            listed = ", ".join(f"{name}.{t}" for t in data)
            conn.execute(f"TRUNCATE {listed} RESTART IDENTITY CASCADE")


@contextmanager
def another_database(url: str) -> Iterator[str]:
    """`url` with a new, empty database of the test server in place of its own (the same
    search_path), dropped afterwards with whatever is still connected to it."""
    import secrets
    from urllib.parse import urlsplit

    name = f"ebok_other_{secrets.token_hex(4)}"
    with _admin() as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield urlsplit(url)._replace(path=f"/{name}").geturl()
    finally:
        with _admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
