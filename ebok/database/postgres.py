"""The PostgreSQL side of ebok.database (psycopg 3), imported only when a URL names one.

Statements run in autocommit mode on a connection borrowed from a small pool for just that
statement, their rows fetched before it goes back; a transaction keeps one connection for the
thread until it ends (statements the thread runs meanwhile go through it). A connection found
broken is closed instead of returned. A statement refused because its connection had died (a
server restart since) runs once more on a fresh one; when the server cannot be reached, the
caller gets DatabaseUnavailable and the next call tries again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import pq

from ebok.database import dialect
from ebok.database.errors import (
    CONNECT_TIMEOUT,
    POOL_SIZE,
    POOL_WAIT,
    DatabaseUnavailable,
    IntegrityError,
    describe,
)

log = logging.getLogger("ebok.database")

# SQLite's NOCASE (ASCII case ignored in comparisons), as a PostgreSQL collation of the same
# name, so that `x = ? COLLATE NOCASE` and unique indexes on `login COLLATE NOCASE` read alike.
NOCASE = (
    "CREATE COLLATION IF NOT EXISTS nocase"
    " (provider = icu, locale = 'und-u-ks-level2', deterministic = false)"
)


class Result:
    """The rows of one statement, fetched: what sqlite3's cursor offers, minus lastrowid
    (write `RETURNING id`)."""

    __slots__ = ("rows", "rowcount", "_next")

    def __init__(self, rows: list[tuple], rowcount: int) -> None:
        self.rows = rows
        self.rowcount = rowcount
        self._next = 0

    def fetchone(self) -> tuple | None:
        if self._next >= len(self.rows):
            return None
        self._next += 1
        return self.rows[self._next - 1]

    def fetchall(self) -> list[tuple]:
        rows, self._next = self.rows[self._next :], len(self.rows)
        return rows

    def __iter__(self) -> Iterator[tuple]:
        return iter(self.fetchall())


def _rows(cursor: psycopg.Cursor) -> Result:
    rows = cursor.fetchall() if cursor.description is not None else []
    return Result(rows, cursor.rowcount)


class PostgresDatabase:
    """A PostgreSQL database by URL; safe to share between threads."""

    backend = "postgresql"

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE) -> None:
        self.target = self.url = url
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(pool_size)
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"<PostgresDatabase {describe(self.url)}>"

    # -- connections ----------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection:
        options: dict[str, Any] = {"autocommit": True, "application_name": "ebok"}
        if "connect_timeout" not in self.url:
            options["connect_timeout"] = CONNECT_TIMEOUT
        try:
            return psycopg.connect(self.url, **options)
        except psycopg.OperationalError as exc:
            log.warning("database unavailable: %s", describe(self.url))
            raise DatabaseUnavailable(f"cannot connect to {describe(self.url)}") from exc

    def _borrow(self) -> psycopg.Connection:
        if not self._slots.acquire(timeout=POOL_WAIT):
            raise DatabaseUnavailable(f"no free connection to {describe(self.url)}")
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is not None and not conn.closed:
            return conn
        try:
            return self._connect()
        except BaseException:
            self._slots.release()
            raise

    def _give_back(self, conn: psycopg.Connection) -> None:
        healthy = not conn.closed and conn.info.transaction_status == pq.TransactionStatus.IDLE
        if healthy:
            with self._lock:
                self._idle.append(conn)
        else:
            conn.close()
        self._slots.release()

    @contextmanager
    def _connection(self) -> Iterator[tuple[psycopg.Connection, bool]]:
        """The thread's transaction connection, or one borrowed for the statement; the flag
        says whether it was borrowed (and so may be replaced and the statement retried)."""
        pinned = getattr(self._local, "conn", None)
        if pinned is not None:
            yield pinned, False
            return
        conn = self._borrow()
        try:
            yield conn, True
        finally:
            self._give_back(conn)

    def _run(self, method: str, sql: str, params: Any) -> Result:
        query = dialect.to_postgresql(sql)
        for attempt in (1, 2):
            with self._connection() as (conn, borrowed):
                try:
                    with conn.cursor() as cursor:
                        getattr(cursor, method)(query, params)
                        return _rows(cursor)
                except psycopg.IntegrityError as exc:
                    raise IntegrityError(str(exc)) from exc
                except psycopg.OperationalError as exc:
                    if not conn.closed and not conn.broken:
                        raise  # a statement's own failure (a lock timeout…), not the server's
                    conn.close()
                    self.close()  # the idle ones died with it (a restart ends them all)
                    if not borrowed or attempt == 2:
                        raise DatabaseUnavailable(f"lost {describe(self.url)}") from exc
                    log.info("database connection lost; trying a new one")
        raise AssertionError("unreachable")

    def execute(self, sql: str, params: Sequence | dict = ()) -> Result:
        return self._run("execute", sql, params)

    def executemany(self, sql: str, rows: Iterable[Sequence | dict]) -> Result:
        return self._run("executemany", sql, list(rows))

    @contextmanager
    def transaction(self) -> Iterator[PostgresDatabase]:
        """One transaction on one connection for this thread's statements until it ends."""
        if getattr(self._local, "conn", None) is not None:
            raise RuntimeError("transactions do not nest")
        conn = self._begun()
        self._local.conn = conn
        try:
            try:
                yield self
            except BaseException:
                if not conn.closed and not conn.broken:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except psycopg.IntegrityError as exc:
            raise IntegrityError(str(exc)) from exc
        except psycopg.OperationalError as exc:
            if conn.closed or conn.broken:
                raise DatabaseUnavailable(f"lost {describe(self.url)}") from exc
            raise
        finally:
            self._local.conn = None
            self._give_back(conn)

    def _begun(self) -> psycopg.Connection:
        """A borrowed connection with a transaction begun on it; a stale one (the server
        restarted since) is replaced once, as nothing has run on it yet."""
        for attempt in (1, 2):
            conn = self._borrow()
            try:
                conn.execute("BEGIN")
                return conn
            except psycopg.OperationalError as exc:
                dead = conn.closed or conn.broken
                conn.close()
                self._give_back(conn)
                if not dead:
                    raise
                self.close()
                if attempt == 2:
                    raise DatabaseUnavailable(f"lost {describe(self.url)}") from exc
        raise AssertionError("unreachable")

    def stamp(self) -> None:
        """No cheap "changed since" here: callers do not cache."""
        return None

    def exists(self) -> bool:
        return True

    def close(self) -> None:
        """Close the idle connections (those in use close when given back broken)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    # -- migrations -----------------------------------------------------------------------------
    def migrate(self, name: str, migrations: Sequence[str], postgresql: dict[int, str]) -> int:
        """ebok.database.migrate for PostgreSQL."""
        with self.transaction():
            conn = self._local.conn
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"ebok:{name}",))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_versions"
                " (name TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            conn.execute(NOCASE)
            row = conn.execute(
                "SELECT version FROM schema_versions WHERE name = %s", (name,)
            ).fetchone()
            version = row[0] if row else 0
            for number, sql in enumerate(migrations[version:], start=version + 1):
                script = postgresql.get(number) or dialect.ddl_to_postgresql(sql)
                conn.execute(script.encode())  # several statements: the simple protocol
            conn.execute(
                "INSERT INTO schema_versions (name, version) VALUES (%s, %s)"
                " ON CONFLICT (name) DO UPDATE SET version = excluded.version",
                (name, max(version, len(migrations))),
            )
        return max(version, len(migrations))
