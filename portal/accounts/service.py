"""The account service: every rule about resident accounts and all of their SQL.

One account may hold several premises (a flat and a garage); one premises may have several
accounts (co-owners). Premises ids are only ever stored and compared, never resolved here: the
published snapshot is the source of truth for what exists.

`Accounts` is the one object the portal and the `ebok accounts` commands use. Its parts:
- this module: opening, reading, finding and changing accounts, their premises, the signed
  application an account was opened on, passwords (including the office reset), statuses,
  sessions and sign-in history;
- portal.accounts.closing: closing an account and erasing its data after the retention period;
- portal.accounts.schema: the migrations (SQLite or PostgreSQL: ebok.database);
- portal.accounts.model: statuses, the login rule, timestamps and the records returned.

The database is ebok.database's (`db()`): a SQLite file with one kept connection per thread, or
PostgreSQL through a small pool. The per-request session check is a single indexed query, and on
SQLite its answer is reused while the database is unchanged (see `Accounts.session_account`).
"""

from __future__ import annotations

import bisect
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from itertools import accumulate
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

# The names callers import from here: the service and what it takes and returns.
__all__ = ["ACTIVE", "CLOSED", "DISABLED", "STATUSES", "Account", "AccountError", "AccountRecord"]
__all__ += ["Accounts", "Closure", "Holder", "check_email", "check_login", "iso", "parse_iso"]
__all__ += ["utc_now"]

log = logging.getLogger("ebok.accounts")

# Sign-in attempts carry client addresses (personal data): kept a year, for the resident's and
# the manager's questions about account use, then forgotten.
SIGN_IN_RETENTION_DAYS = 365
# The session check's answers are reused for at most this long (and only while the database is
# unchanged); a bound on how long any revocation could take, documented in docs/benchmarks.md.
SESSION_CACHE_SECONDS = 1.0
SESSION_CACHE_SIZE = 4096


_RECORD_SQL = """
    SELECT a.id, a.login, a.password_hash, a.email, a.status, a.must_change_password,
           a.auth_version, a.created_at,
           (SELECT json_group_array(premises_id) FROM account_premises p
             WHERE p.account_id = a.id),
           (SELECT max(at) FROM sign_ins s WHERE s.account_id = a.id AND s.success = 1)
      FROM accounts a
"""

_SESSION_SQL = """
    SELECT a.login, a.email, a.must_change_password,
           (SELECT json_group_array(premises_id) FROM account_premises p
             WHERE p.account_id = a.id),
           (SELECT max(at) FROM sign_ins s
             WHERE s.account_id = a.id AND s.success = 1 AND s.at < :issued_at)
      FROM accounts a
     WHERE a.id = :id AND a.auth_version = :version AND a.status = 'active'
       AND NOT EXISTS (SELECT 1 FROM ended_sessions e
                        WHERE e.account_id = a.id AND e.issued_at = :issued_at)
"""


class Holder(NamedTuple):
    """An account as a list of premises shows it (`Accounts.holders`)."""

    id: int
    login: str
    status: str
    must_change_password: bool


# What `Accounts.find` searches: each account's login (also lowered, as LIKE and NOCASE lower
# it: ASCII only), e-mail address and application number, newest first; the premises ids.
_SEARCH_ACCOUNTS_SQL = (
    "SELECT id, lower(login), login, email, application_number FROM accounts ORDER BY id DESC"
)
_SEARCH_PREMISES_SQL = "SELECT account_id, premises_id FROM account_premises"
_FIELD_END, _LINE_END = "\x1f", "\x1e"  # never in a field that `find` searches for
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


class _SearchLines:
    """The fields `Accounts.find` searches, one line per account (newest first), each field
    with ASCII letters lowered as SQL's LIKE compares them, and ended by _FIELD_END, so that
    a search text (which holds no _FIELD_END) is found within one field, as LIKE finds it."""

    def __init__(self, stamp: tuple[int, int], conn: Database) -> None:
        self.stamp = stamp
        premises: dict[int, list[str]] = {}
        for account_id, premises_id in conn.execute(_SEARCH_PREMISES_SQL):
            premises.setdefault(account_id, []).append(premises_id)
        accounts = conn.execute(_SEARCH_ACCOUNTS_SQL).fetchall()
        self.ids = [row[0] for row in accounts]
        self.logins = {row[1]: row[0] for row in accounts}
        lines = [
            _FIELD_END.join([*(v for v in row[2:] if v is not None), *premises.get(row[0], ())])
            + _FIELD_END
            for row in accounts
        ]
        self.text = _LINE_END.join(lines).translate(_ASCII_LOWER)  # keeps every length
        self.starts = list(accumulate((len(line) + 1 for line in lines), initial=0))[:-1]

    def find(self, text: str, limit: int) -> list[int]:
        """Ids of the accounts with a field containing `text`: the one whose login is `text`
        first, then newest first; at most `limit`."""
        needle = text.translate(_ASCII_LOWER)
        exact = self.logins.get(needle)
        found = [exact] if exact is not None else []
        position = self.text.find(needle)
        while position != -1 and len(found) < limit:
            line = bisect.bisect_right(self.starts, position) - 1
            if self.ids[line] != exact:
                found.append(self.ids[line])
            following = line + 1
            if following == len(self.starts):
                break
            position = self.text.find(needle, self.starts[following])
        return found[:limit]


def _record(row: tuple) -> AccountRecord:
    return AccountRecord(
        id=row[0],
        login=row[1],
        password_hash=row[2],
        email=row[3],
        status=row[4],
        must_change_password=bool(row[5]),
        auth_version=row[6],
        created_at=parse_iso(row[7]),  # type: ignore[arg-type]
        premises_ids=tuple(sorted(json.loads(row[8]))),
        last_login_at=parse_iso(row[9]),
    )


class Accounts(Closing):
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
        row = self.db().execute(_RECORD_SQL + " WHERE a.id = ?", (account_id,)).fetchone()
        return _record(row) if row else None

    def by_login(self, login: str) -> AccountRecord | None:
        row = self.db().execute(_RECORD_SQL + " WHERE a.login = ?", (login.strip(),)).fetchone()
        return _record(row) if row else None

    def require(self, login: str) -> AccountRecord:
        record = self.by_login(login)
        if record is None:
            raise AccountError(f"no account with login {login!r}")
        return record

    def list(self) -> list[AccountRecord]:
        rows = self.db().execute(_RECORD_SQL + " ORDER BY a.login").fetchall()
        return [_record(r) for r in rows]

    def by_premises(self, premises_id: str) -> list[AccountRecord]:
        rows = (
            self.db()
            .execute(
                _RECORD_SQL
                + " WHERE a.id IN (SELECT account_id FROM account_premises WHERE premises_id = ?)"
                " ORDER BY a.login",
                (premises_id,),
            )
            .fetchall()
        )
        return [_record(r) for r in rows]

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

    def session_account(self, account_id: int, version: int, issued_at: str) -> Account | None:
        """The account behind a session cookie, or None when the session no longer counts
        (password changed, account disabled or closed, this session logged out).

        Asked on every request, so answers are kept per thread (per connection) and reused
        only while nothing was written to the database since: SQLite's `data_version` moves
        when any other connection commits (another thread, `ebok` in another process) and
        `total_changes` when this one writes. A revocation therefore counts from the next
        request wherever it was made; on top of that no answer is reused for longer than
        SESSION_CACHE_SECONDS, whatever the database says. The check costs one PRAGMA (~6 µs)
        instead of the lookup (~50 µs).

        On PostgreSQL nothing that cheap tells whether another process or host wrote: answers
        are kept while this service wrote nothing (its own revocations count at once) and for
        SESSION_CACHE_SECONDS at most, so a revocation made elsewhere counts within that second
        (the lookup is a round trip to the server, ~0.2 ms: on every request it cut a worker's
        throughput to a fifth, docs/benchmarks.md)."""
        conn = self.db()
        local = self._local
        stamp = conn.stamp()
        if stamp is None:  # PostgreSQL
            stamp = ("this service's writes", self._writes)
        cache: dict | None = getattr(local, "sessions", None)
        if cache is None or local.sessions_stamp != stamp or len(cache) >= SESSION_CACHE_SIZE:
            cache = local.sessions = {}
            local.sessions_stamp = stamp
        key = (account_id, version, issued_at)
        now = self.clock()
        hit = cache.get(key)
        if hit is not None and 0 <= now - hit[0] < SESSION_CACHE_SECONDS:
            return hit[1]
        account = self._session_lookup(conn, account_id, version, issued_at)
        cache[key] = (now, account)
        return account

    @staticmethod
    def _session_lookup(
        conn: Database, account_id: int, version: int, issued_at: str
    ) -> Account | None:
        row = conn.execute(
            _SESSION_SQL, {"id": account_id, "version": version, "issued_at": issued_at}
        ).fetchone()
        if row is None:
            return None
        return Account(
            id=account_id,
            login=row[0],
            premises_ids=tuple(sorted(json.loads(row[3]))),
            previous_login_at=parse_iso(row[4]),
            must_change_password=bool(row[2]),
            email=row[1],
        )

    def auth_version(self, account_id: int) -> int | None:
        row = (
            self.db()
            .execute("SELECT auth_version FROM accounts WHERE id = ?", (account_id,))
            .fetchone()
        )
        return row[0] if row else None

    def password_hash(self, account_id: int) -> str | None:
        row = (
            self.db()
            .execute("SELECT password_hash FROM accounts WHERE id = ?", (account_id,))
            .fetchone()
        )
        return row[0] if row else None

    def find(self, text: str, *, limit: int = 50) -> list[AccountRecord]:
        """Accounts whose login, e-mail address, application number or a linked premises id
        contains `text` (any case of ASCII letters), newest first, except that the account
        whose login is `text` comes first; with no text, the newest accounts. At most `limit`.

        As SQL's `LIKE '%text%'` would find them (`_find_sql`), but over a folded copy of those
        fields kept per thread while the database is unchanged (the stamp `session_account`
        uses): a search over 10,000 accounts takes ~0.3 ms instead of ~6 ms. Any write to the
        database (another thread's, another process's, this connection's; a sign-in or an
        audit entry too) makes the next search read the fields again: ~10-20 ms for 10,000
        accounts, once."""
        text = text.strip()
        if not text:
            rows = self.db().execute(_RECORD_SQL + " ORDER BY a.id DESC LIMIT ?", (limit,))
            return [_record(r) for r in rows]
        if _FIELD_END in text or _LINE_END in text or self.db().stamp() is None:
            return self._find_sql(text, limit)
        return self.get_many(self._search_lines().find(text, limit))

    def _find_sql(self, text: str, limit: int) -> list[AccountRecord]:
        """`find` straight from the database (what the folded copy answers, by definition;
        on PostgreSQL, where no cheap stamp tells when to read the copy again, every time)."""
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.db().execute(
            _RECORD_SQL
            + " WHERE a.login LIKE :like ESCAPE '\\' OR a.email LIKE :like ESCAPE '\\'"
            " OR a.application_number LIKE :like ESCAPE '\\'"
            " OR EXISTS (SELECT 1 FROM account_premises p WHERE p.account_id = a.id"
            "            AND p.premises_id LIKE :like ESCAPE '\\')"
            " ORDER BY a.login = :text COLLATE NOCASE DESC, a.id DESC LIMIT :limit",
            {"like": f"%{escaped}%", "text": text, "limit": limit},
        )
        return [_record(r) for r in rows]

    def _search_lines(self) -> _SearchLines:
        """This thread's folded copy of the searched fields, read again after any write."""
        conn = self.db()
        stamp = conn.stamp()
        lines: _SearchLines | None = getattr(self._local, "search_lines", None)
        if lines is None or lines.stamp != stamp:
            lines = self._local.search_lines = _SearchLines(stamp, conn)
        return lines

    def get_many(self, account_ids: list[int]) -> list[AccountRecord]:
        """The accounts with these ids, in this order (ids without an account left out)."""
        if not account_ids:
            return []
        marks = ", ".join("?" * len(account_ids))
        rows = self.db().execute(_RECORD_SQL + f" WHERE a.id IN ({marks})", account_ids)
        records = {r.id: r for r in map(_record, rows)}
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

    def sign_in_history(self, account_id: int, limit: int = 20) -> list[dict]:
        rows = self.db().execute(
            "SELECT at, client, success, reason FROM sign_ins WHERE account_id = ?"
            " ORDER BY at DESC LIMIT ?",
            (account_id, limit),
        )
        return [
            {"at": parse_iso(at), "client": client, "success": bool(ok), "reason": reason}
            for at, client, ok, reason in rows
        ]

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

    def end_session(self, account_id: int, issued_at: str) -> None:
        """Refuse from now on the one session issued at `issued_at` (logout), wherever its
        cookie was copied to. Old entries are pruned: sessions cannot outlive a day."""
        now = utc_now()
        self._write(
            "INSERT INTO ended_sessions VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (account_id, issued_at, iso(now)),
        )
        cutoff = iso(datetime.fromtimestamp(now.timestamp() - 2 * 86400, UTC))
        self._write("DELETE FROM ended_sessions WHERE ended_at < ?", (cutoff,))

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

    def prune_sign_ins(self, keep_days: int = SIGN_IN_RETENTION_DAYS) -> int:
        """Forget sign-in attempts (with their client addresses) older than `keep_days`, except
        each account's last successful sign-in, which the resident is shown."""
        cutoff = iso(datetime.fromtimestamp(utc_now().timestamp() - keep_days * 86400, UTC))
        cur = self._write(
            "DELETE FROM sign_ins WHERE at < ? AND id NOT IN ("
            " SELECT max(id) FROM sign_ins WHERE success = 1 AND account_id IS NOT NULL"
            " GROUP BY account_id)",
            (cutoff,),
        )
        return cur.rowcount

    def record_sign_in(
        self,
        login: str,
        account_id: int | None,
        *,
        success: bool,
        client: str | None = None,
        reason: str | None = None,
        at: datetime | None = None,
    ) -> str:
        """Log one sign-in attempt (never the password). Returns its timestamp text."""
        stamp = iso(at or utc_now())
        self._write(
            "INSERT INTO sign_ins (account_id, login, client, at, success, reason)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (account_id, login[:200], client, stamp, int(success), reason),
        )
        return stamp
