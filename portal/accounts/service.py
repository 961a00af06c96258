"""The account service: every rule about resident accounts and all of their SQL.

One account may hold several premises (a flat and a garage); one premises may have several
accounts (co-owners). Premises ids are only ever stored and compared, never resolved here: the
published snapshot is the source of truth for what exists.

`Accounts` is the one object the portal and the `ebok accounts` commands use. Its parts:
- this module: opening, reading and changing accounts, their premises, the signed application
  an account was opened on, passwords (including the office reset) and statuses;
- portal.accounts.sessions: the per-request session check (and its cache) and logout;
- portal.accounts.sign_ins: the sign-in history, recorded, shown and pruned;
- portal.accounts.search: finding accounts (the manager's search);
- portal.accounts.closing: closing an account and erasing its data after the retention period;
- portal.accounts.records: the query every AccountRecord is read with;
- portal.accounts.schema: the migrations (SQLite or PostgreSQL: ebok.database);
- portal.accounts.model: statuses, the login rule, timestamps and the records returned.

The database is ebok.database's (`db()`): a SQLite file with one kept connection per thread, or
PostgreSQL through a small pool. The per-request session check is a single indexed query, and on
SQLite its answer is reused while the database is unchanged (see `Accounts.session_account`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import NamedTuple

from ebok.database import Database, IntegrityError, Rows, open_database
from portal.accounts import passwords
from portal.accounts import schema as accounts_schema
from portal.accounts.closing import Closing
from portal.accounts.model import (
    ACTIVE,
    CLOSED,
    DISABLED,
    STATUSES,
    Account,
    AccountError,
    AccountRecord,
    Closure,
    check_email,
    check_login,
    check_premises_id,
    iso,
    parse_iso,
    utc_now,
)
from portal.accounts.records import RECORD_SQL, record_from_row
from portal.accounts.search import Search
from portal.accounts.sessions import Sessions
from portal.accounts.sign_ins import SignIns

# The names callers import from here: the service and what it takes and returns.
__all__ = ["ACTIVE", "CLOSED", "DISABLED", "STATUSES", "Account", "AccountError", "AccountRecord"]
__all__ += ["Accounts", "Closure", "Holder", "check_email", "check_login", "iso", "parse_iso"]
__all__ += ["utc_now"]

log = logging.getLogger("ebok.accounts")


class Holder(NamedTuple):
    """An account as a list of premises shows it (`Accounts.holders`)."""

    id: int
    login: str
    status: str
    must_change_password: bool


class Accounts(Sessions, SignIns, Search, Closing):
    """The accounts database and its rules. Safe to share between threads.

    `target`: a SQLite file (DATA/ebok.sqlite3), a PostgreSQL URL, or an ebok.database
    Database (`Settings.accounts_database` says which)."""

    def __init__(
        self, target: Path | str | Database, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.database = open_database(target)
        self.path = self.database.target
        self.clock = clock  # seconds, for the session cache; tests move it
        self._local = threading.local()
        self._migrate_lock = threading.Lock()
        self._migrated = False
        self._writes = 0  # statements this service wrote: the session cache's stamp on PostgreSQL

    # -- connections and schema -------------------------------------------------------------
    def db(self) -> Database:
        """The database, its schema brought up to date on first use."""
        if not self._migrated:
            self.migrate()
        return self.database

    def migrate(self) -> int:
        """Bring the schema up to date; returns the schema version."""
        with self._migrate_lock:
            version = accounts_schema.migrate(self.database)
            self._migrated = True
            return version

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        self.database.close()
        self._local.sessions = None  # its data_version stamp belonged to that connection
        self._local.search_lines = None  # likewise

    def _write(self, sql: str, params: Iterable | dict = ()) -> Rows:
        # Counted before and after: an answer cached while the write runs is not reused.
        self._writes += 1
        try:
            return self.db().execute(sql, params)
        finally:
            self._writes += 1

    # -- reading ------------------------------------------------------------------------------
    def get(self, account_id: int) -> AccountRecord | None:
        row = self.db().execute(RECORD_SQL + " WHERE a.id = ?", (account_id,)).fetchone()
        return record_from_row(row) if row else None

    def by_login(self, login: str) -> AccountRecord | None:
        row = self.db().execute(RECORD_SQL + " WHERE a.login = ?", (login.strip(),)).fetchone()
        return record_from_row(row) if row else None

    def require(self, login: str) -> AccountRecord:
        record = self.by_login(login)
        if record is None:
            raise AccountError(f"no account with login {login!r}")
        return record

    def list(self) -> list[AccountRecord]:
        rows = self.db().execute(RECORD_SQL + " ORDER BY a.login").fetchall()
        return [record_from_row(r) for r in rows]

    def by_premises(self, premises_id: str) -> list[AccountRecord]:
        rows = (
            self.db()
            .execute(
                RECORD_SQL
                + " WHERE a.id IN (SELECT account_id FROM account_premises WHERE premises_id = ?)"
                " ORDER BY a.login",
                (premises_id,),
            )
            .fetchall()
        )
        return [record_from_row(r) for r in rows]

    def holders(self, premises_ids: Iterable[str]) -> dict[str, list[Holder]]:
        """The accounts linked to each of these premises (by login, as `by_premises` lists
        them), in one query, with only what a list of premises shows of them."""
        wanted = list(dict.fromkeys(premises_ids))
        found: dict[str, list[Holder]] = {p: [] for p in wanted}
        if not wanted:
            return found
        marks = ", ".join("?" * len(wanted))
        rows = self.db().execute(
            "SELECT p.premises_id, a.id, a.login, a.status, a.must_change_password"
            "  FROM account_premises p JOIN accounts a ON a.id = p.account_id"
            f" WHERE p.premises_id IN ({marks}) ORDER BY a.login",
            wanted,
        )
        for premises_id, account_id, login, status, must_change in rows:
            found[premises_id].append(Holder(account_id, login, status, bool(must_change)))
        return found

    def password_hash(self, account_id: int) -> str | None:
        row = (
            self.db()
            .execute("SELECT password_hash FROM accounts WHERE id = ?", (account_id,))
            .fetchone()
        )
        return row[0] if row else None

    def get_many(self, account_ids: list[int]) -> list[AccountRecord]:
        """The accounts with these ids, in this order (ids without an account left out)."""
        if not account_ids:
            return []
        marks = ", ".join("?" * len(account_ids))
        rows = self.db().execute(RECORD_SQL + f" WHERE a.id IN ({marks})", account_ids)
        records = {r.id: r for r in map(record_from_row, rows)}
        return [records[i] for i in account_ids if i in records]

    def application(self, account_id: int) -> tuple[date | None, str | None]:
        """The date and number of the signed application the account was opened on (None for
        what was not recorded)."""
        row = (
            self.db()
            .execute(
                "SELECT application_date, application_number FROM accounts WHERE id = ?",
                (account_id,),
            )
            .fetchone()
        )
        if row is None:
            raise AccountError(f"no account with id {account_id}")
        return (date.fromisoformat(row[0]) if row[0] else None), row[1]

    # -- writing ------------------------------------------------------------------------------
    def create(
        self,
        login: str,
        password_hash: str,
        premises_ids: Iterable[str] = (),
        *,
        email: str | None = None,
        must_change_password: bool = True,
        application_date: date | None = None,
        application_number: str | None = None,
    ) -> AccountRecord:
        login = check_login(login)
        email = check_email(email)
        premises_ids = [check_premises_id(p) for p in premises_ids]
        try:
            with self.db().transaction() as tx:
                ((account_id,),) = tx.execute(
                    "INSERT INTO accounts (login, password_hash, email, must_change_password,"
                    " created_at, password_changed_at, application_date, application_number)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    (
                        login,
                        password_hash,
                        email,
                        int(must_change_password),
                        iso(utc_now()),
                        None,
                        application_date.isoformat() if application_date else None,
                        application_number,
                    ),
                ).fetchall()
                tx.executemany(
                    "INSERT INTO account_premises VALUES (?, ?) ON CONFLICT DO NOTHING",
                    [(account_id, p) for p in premises_ids],
                )
        except IntegrityError as exc:
            raise AccountError(f"login {login!r} is already taken") from exc
        record = self.get(account_id)  # type: ignore[arg-type]
        assert record is not None
        return record

    def open_account(
        self,
        login: str,
        premises_ids: Iterable[str],
        *,
        email: str | None = None,
        application_date: date | None = None,
        application_number: str | None = None,
    ) -> tuple[AccountRecord, str]:
        """A new account, opened by the manager on a signed application (its date and number
        are kept when given), with a one-time password that the first sign-in must replace.
        Returns the account and the password (to hand over; it is stored only as a hash)."""
        password = passwords.generate_one_time_password()
        record = self.create(
            login,
            passwords.hash_password(password),
            premises_ids,
            email=email,
            application_date=application_date,
            application_number=application_number,
        )
        log.info("account %s opened", record.login)
        return record, password

    def set_password(
        self, account_id: int, password_hash: str, *, must_change: bool = False
    ) -> int:
        """Store a new hash and bump the auth version, which ends every existing session of the
        account. Returns the new version, for the one session the caller keeps alive."""
        row = self._write(
            "UPDATE accounts SET password_hash = ?, must_change_password = ?,"
            " auth_version = auth_version + 1, password_changed_at = ?"
            " WHERE id = ? RETURNING auth_version",
            (password_hash, int(must_change), iso(utc_now()), account_id),
        ).fetchone()
        if row is None:
            raise AccountError(f"no account with id {account_id}")
        return row[0]

    def office_reset(self, login: str) -> tuple[AccountRecord, str]:
        """A new one-time password for a resident at the office: the old password stops working,
        every session ends and the next sign-in must set a password of the resident's own.
        Returns the account and the password (to print; it is stored only as a hash)."""
        record = self.require(login)
        if record.status == CLOSED:
            raise AccountError(
                f"account {record.login!r} is closed; a resident who returns needs a new account"
            )
        password = passwords.generate_one_time_password()
        self.set_password(record.id, passwords.hash_password(password), must_change=True)
        log.info("account %s: one-time password issued at the office", record.login)
        updated = self.get(record.id)
        assert updated is not None
        return updated, password

    def rehash_password(self, account_id: int, password_hash: str) -> None:
        """Replace the hash of an unchanged password (stronger parameters); sessions stay."""
        self._write(
            "UPDATE accounts SET password_hash = ? WHERE id = ?", (password_hash, account_id)
        )

    def set_status(self, account_id: int, status: str) -> None:
        """Disabling or closing ends every session: the session check requires 'active'.
        Closing is final (a returning resident gets a new account), and the time of the last
        real change is kept: the retention of a closed account's data counts from it."""
        if status not in STATUSES:
            raise AccountError(f"unknown status {status!r}")
        row = (
            self.db()
            .execute("SELECT login, status FROM accounts WHERE id = ?", (account_id,))
            .fetchone()
        )
        if row is None:
            raise AccountError(f"no account with id {account_id}")
        login, current = row
        if current == status:
            return
        if current == CLOSED:
            raise AccountError(
                f"account {login!r} is closed: a closed account cannot be reopened;"
                " a returning resident signs a new application for a new account"
            )
        self._write(
            "UPDATE accounts SET status = ?, status_changed_at = ?,"
            " auth_version = auth_version + 1 WHERE id = ? AND status = ?",
            (status, iso(utc_now()), account_id, current),
        )

    def set_email(self, account_id: int, email: str | None) -> None:
        """Set the address (checked and stripped), or remove it with None."""
        email = check_email(email)
        cur = self._write("UPDATE accounts SET email = ? WHERE id = ?", (email, account_id))
        if cur.rowcount == 0:
            raise AccountError(f"no account with id {account_id}")

    def link(self, account_id: int, premises_id: str) -> bool:
        """True when the link is new."""
        check_premises_id(premises_id)
        try:
            cur = self._write(
                "INSERT INTO account_premises VALUES (?, ?) ON CONFLICT DO NOTHING",
                (account_id, premises_id),
            )
        except IntegrityError as exc:
            raise AccountError(f"no account with id {account_id}") from exc
        return cur.rowcount == 1

    def unlink(self, account_id: int, premises_id: str) -> bool:
        """True when there was such a link."""
        cur = self._write(
            "DELETE FROM account_premises WHERE account_id = ? AND premises_id = ?",
            (account_id, premises_id),
        )
        return cur.rowcount == 1
