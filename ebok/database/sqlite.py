"""The SQLite side of ebok.database: a file in the data dir, one connection per thread."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ebok.database import errors
from ebok.database.errors import SQLITE_TIMEOUT, SQLiteIntegrityError, SQLiteUnavailable


def sqlite_connect(path: Path, timeout: float = SQLITE_TIMEOUT) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL journal, foreign keys
    on. A new database file is created readable by the service user only: it holds password
    hashes and e-mail addresses, and SQLite gives the -wal and -shm files the file's mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    conn = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
    return conn


def _sqlite_error(exc: sqlite3.Error) -> Exception:
    """Our error for a driver error (or the error itself, for bugs such as bad SQL)."""
    if isinstance(exc, sqlite3.IntegrityError):
        error: Exception = SQLiteIntegrityError(*exc.args)
    elif isinstance(exc, sqlite3.OperationalError) and (
        "locked" in str(exc) or "busy" in str(exc) or "unable to open" in str(exc)
    ):
        error = SQLiteUnavailable(*exc.args)
    else:
        return exc
    error.__cause__ = exc
    return error


class SQLiteDatabase:
    """A SQLite file, one connection per thread. Safe to share between threads."""

    backend = "sqlite"

    def __init__(self, path: Path, *, timeout: float | None = None) -> None:
        self.target = self.path = path
        self.timeout = errors.SQLITE_TIMEOUT if timeout is None else timeout
        self._local = threading.local()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (made on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = self._local.conn = sqlite_connect(self.path, self.timeout)
            except sqlite3.OperationalError as exc:
                raise _sqlite_error(exc) from exc
        return conn

    def execute(self, sql: str, params: Sequence | dict = ()) -> sqlite3.Cursor:
        try:
            return self.connection().execute(sql, params)
        except sqlite3.Error as exc:
            raise _sqlite_error(exc) from exc

    def executemany(self, sql: str, rows: Iterable[Sequence | dict]) -> sqlite3.Cursor:
        try:
            return self.connection().executemany(sql, rows)
        except sqlite3.Error as exc:
            raise _sqlite_error(exc) from exc

    @contextmanager
    def transaction(self) -> Iterator[SQLiteDatabase]:
        """BEGIN IMMEDIATE (the write lock at once: no deadlock upgrading a read later) … COMMIT,
        or ROLLBACK on any exception. Statements inside go through this same object."""
        conn = self.connection()
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise _sqlite_error(exc) from exc
        try:
            yield self
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise _sqlite_error(exc) from exc

    def stamp(self) -> tuple[int, int]:
        """Moves when anything was written: `data_version` when another connection committed,
        `total_changes` when this one wrote."""
        conn = self.connection()
        return conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes

    def exists(self) -> bool:
        return self.path.exists()

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None



def sqlite_migrate(conn: sqlite3.Connection, migrations: Sequence[str]) -> int:
    """`migrate` on one SQLite connection in autocommit mode."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        for number, sql in enumerate(migrations[version:], start=version + 1):
            for statement in sqlite_statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return max(version, len(migrations))


def sqlite_statements(script: str) -> list[str]:
    """Split a migration into statements (executescript would commit behind our back);
    sqlite3.complete_statement knows whether a `;` ends one or sits inside a literal."""
    statements, start = [], 0
    for end, char in enumerate(script):
        if char == ";" and sqlite3.complete_statement(script[start : end + 1]):
            statements.append(script[start : end + 1].strip())
            start = end + 1
    if script[start:].strip():
        statements.append(script[start:].strip())
    return statements
