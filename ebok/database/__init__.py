"""The database of accounts, staff, throttles, the audit log and the import history: SQLite
files in the data dir (the default, nothing to run), or one PostgreSQL database shared by
several portal hosts (`EBOK_DATABASE_URL=postgresql://…`).

Both layers use it (etl's import history, the portal's accounts), so it lives beside
ebok.settings and imports neither (.importlinter). Code asks a `Database` for what it needs:

    db.execute(sql, params)        one statement in autocommit mode; a cursor-like result
    db.executemany(sql, rows)      (fetchone, fetchall, iteration, rowcount)
    with db.transaction():         the statements of this thread in one transaction
    db.stamp()                     SQLite only: changes when anything was written (else None)

SQL is written once in SQLite's dialect (ebok.database.dialect translates it for PostgreSQL). Errors
come as `IntegrityError` (a constraint refused a write) and `DatabaseUnavailable` (the server is
gone, or SQLite stayed locked past its timeout): the portal answers the latter with a 503
page, and the next request tries again, so the portal recovers by itself.

SQLite: one connection per thread, kept (opening one costs more than a query). PostgreSQL: a
small pool per process (POOL_SIZE connections at most, so that workers × hosts stay within the
server's max_connections); a connection found broken is thrown away, and a statement that
failed on a stale connection (the server restarted since it was opened) runs once more on a
new one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from ebok.database.errors import (
    DatabaseError,
    DatabaseUnavailable,
    IntegrityError,
    describe,
    is_postgresql,
)
from ebok.database.sqlite import (
    SQLiteDatabase,
    sqlite_connect,
    sqlite_migrate,
    sqlite_statements,
)

__all__ = ["Database", "DatabaseError", "DatabaseUnavailable", "IntegrityError", "Rows"]
__all__ += ["SQLiteDatabase", "describe", "is_postgresql", "migrate", "open_database"]
__all__ += ["sqlite_connect", "sqlite_migrate", "sqlite_statements"]


class Rows(Protocol):
    """What `execute` returns: a sqlite3.Cursor, or the rows psycopg fetched."""

    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Database(Protocol):
    backend: str  # "sqlite" or "postgresql"
    target: Path | str  # the SQLite file, or the URL (with its password) to the server

    def execute(self, sql: str, params: Sequence | dict = ()) -> Rows: ...

    def executemany(self, sql: str, rows: Iterable[Sequence | dict]) -> Rows: ...

    def transaction(self) -> Any: ...

    def stamp(self) -> tuple | None: ...

    def exists(self) -> bool: ...

    def close(self) -> None: ...


_servers: dict[str, Database] = {}
_servers_lock = threading.Lock()


def open_database(target: Path | str | Database) -> Database:
    """A Database for a SQLite file (a path), a PostgreSQL URL, or the one given. One
    PostgreSQL pool per URL and process, however many services ask for it."""
    if hasattr(target, "execute"):
        return target  # type: ignore[return-value]
    if is_postgresql(target):
        with _servers_lock:
            found = _servers.get(str(target))
            if found is None:
                from ebok.database.postgres import PostgresDatabase  # psycopg only if used

                found = _servers[str(target)] = PostgresDatabase(str(target))
            return found
    return SQLiteDatabase(Path(target))  # type: ignore[arg-type]


# -- migrations ---------------------------------------------------------------------------------
def migrate(
    db: Database,
    name: str,
    migrations: Sequence[str],
    postgresql: dict[int, str] | None = None,
) -> int:
    """Apply the missing ones of `migrations` (numbered from 1) to `db`, each in one
    transaction with its version bump, so a failing one leaves the schema as it was. On
    PostgreSQL a migration runs as `postgresql[number]` when given, else translated by
    ebok.database.dialect.ddl_to_postgresql; several hosts starting at once take turns (an advisory
    lock). SQLite counts in `PRAGMA user_version` (one file per `name`), PostgreSQL in the
    table `schema_versions`. Returns the schema version."""
    if db.backend == "postgresql":
        return db.migrate(name, migrations, postgresql or {})  # type: ignore[attr-defined]
    return sqlite_migrate(db.connection(), migrations)  # type: ignore[attr-defined]
