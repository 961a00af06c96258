"""The errors and limits of ebok.database, shared by its SQLite and PostgreSQL sides."""

from __future__ import annotations

import sqlite3
from urllib.parse import urlsplit

POOL_SIZE = 8  # PostgreSQL connections per process
POOL_WAIT = 10.0  # seconds a request waits for a free connection before a 503
CONNECT_TIMEOUT = 5  # seconds, unless the URL says otherwise
SQLITE_TIMEOUT = 10.0  # seconds SQLite waits for a lock before DatabaseUnavailable


class DatabaseError(Exception):
    """Base of the errors ebok.database raises."""


class IntegrityError(DatabaseError):
    """A constraint refused the statement (a duplicate login, a missing account…)."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot answer now: the server is unreachable, or SQLite stayed locked."""


# On SQLite the errors are the driver's classes as well, for code that catches those.
class SQLiteIntegrityError(IntegrityError, sqlite3.IntegrityError):
    pass


class SQLiteUnavailable(DatabaseUnavailable, sqlite3.OperationalError):
    pass


def is_postgresql(target: object) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def describe(target: object) -> str:
    """Where a database is, for messages and logs: never the URL's password."""
    if not is_postgresql(target):
        return str(target)
    parts = urlsplit(str(target))
    host = parts.hostname or "localhost (socket)"
    return f"PostgreSQL {parts.path.lstrip('/') or '(default database)'} at {host}"
