"""Failed sign-in throttling: growing waits per login and per client address, no hard lockout.

A hard lockout after N failures lets anyone lock a resident out by typing their login. Instead,
after a few free failures each further attempt must wait twice as long as the last, capped, so an
attacker gets at most a few dozen guesses an hour (OWASP ASVS V2.2.1: at most 100) while the
resident can still sign in a minute later. Counts are per login and, separately and more
leniently (many residents may share one address), per client address.

The counts live in the accounts database (table `throttle`, accounts migration 4), so every
server process of `ebok serve --workers N` (and every host, with PostgreSQL) sees the same
ones: an attacker gains nothing by landing on another worker or host, nor by a restart. Each
throttle of an app has its own `scope` (sign-in, recovery, panel). A count is two small
statements on an indexed row (WAL, no fsync per commit), tens of microseconds next to the ~50
ms of checking a password. Rows untouched for longer than their policy's `forget_after` mean
nothing and are deleted now and then.

Without a database (`Throttle()`, as tests make one) the same SQL runs on a private in-memory
SQLite database: counts are then the process's own.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ebok.database import Database
from portal.accounts import schema


@dataclass(frozen=True)
class Policy:
    free_failures: int
    base_delay: float = 1.0
    max_delay: float = 60.0
    forget_after: float = 3600.0  # a key with no failure for this long starts afresh

    def delay(self, failures: int) -> float:
        """Seconds to wait after `failures` consecutive failures."""
        over = failures - self.free_failures
        if over <= 0:
            return 0.0
        return min(self.max_delay, self.base_delay * (2 ** min(over - 1, 32)))


LOGIN_POLICY = Policy(free_failures=3)
ADDRESS_POLICY = Policy(free_failures=10)
PRUNE_EVERY = 300.0  # seconds between deletions of forgotten rows (per process and throttle)
TABLE_MIGRATION = 4  # the accounts migration that makes the table

_READ = (
    "SELECT kind, failures, last FROM throttle"
    " WHERE scope = ? AND ((kind = 'login' AND key = ?) OR (kind = 'address' AND key = ?))"
)
# A failure more than `forget_after` after the last one starts the count afresh.
_FAILED = (
    "INSERT INTO throttle (scope, kind, key, failures, last) VALUES (?, ?, ?, 1, ?)"
    " ON CONFLICT (scope, kind, key) DO UPDATE SET"
    " failures = CASE WHEN excluded.last - throttle.last > ? THEN 1"
    " ELSE throttle.failures + 1 END,"
    " last = excluded.last"
)


class Throttle:
    """Counts failures per key; `wait` tells how long the next attempt has to wait.

    `db` returns a connection to the accounts database (Accounts.db: one per thread), `scope`
    keeps this throttle's rows apart from the app's other throttles'. `clock` is epoch seconds:
    the counts are shared between processes, so a per-process monotonic clock will not do."""

    def __init__(
        self,
        login_policy: Policy = LOGIN_POLICY,
        address_policy: Policy = ADDRESS_POLICY,
        clock: Callable[[], float] = time.time,
        *,
        db: Callable[[], Database] | None = None,
        scope: str = "sign-in",
    ) -> None:
        self.policies = {"login": login_policy, "address": address_policy}
        self.clock = clock
        self.scope = scope
        self._db = db
        self._lock: threading.Lock | None = None
        self._memory: sqlite3.Connection | None = None
        if db is None:
            self._lock = threading.Lock()
            self._memory = sqlite3.connect(":memory:", check_same_thread=False)
            self._memory.isolation_level = None
            self._memory.executescript(schema.MIGRATIONS[TABLE_MIGRATION - 1])
        self._pruned = 0.0

    @contextmanager
    def _conn(self) -> Iterator[Database | sqlite3.Connection]:
        if self._db is not None:
            yield self._db()
            return
        assert self._lock is not None and self._memory is not None
        with self._lock:
            yield self._memory

    @staticmethod
    def _login_key(login: str) -> str:
        return login.strip().lower()

    def _rows(self, login: str, address: str | None) -> dict[str, tuple[int, float]]:
        with self._conn() as conn:
            rows = conn.execute(
                _READ, (self.scope, self._login_key(login), address or "")
            ).fetchall()
        return {kind: (failures, last) for kind, failures, last in rows}

    def wait(self, login: str, address: str | None) -> float:
        """Seconds until an attempt for this login from this address will be considered."""
        now = self.clock()
        longest = 0.0
        for kind, (failures, last) in self._rows(login, address).items():
            policy = self.policies[kind]
            if now - last > policy.forget_after:
                continue
            longest = max(longest, last + policy.delay(failures) - now)
        return max(0.0, longest)

    def wait_seconds(self, login: str, address: str | None) -> int:
        """`wait` rounded up to whole seconds, for the message to the resident."""
        return math.ceil(self.wait(login, address))

    def failed(self, login: str, address: str | None) -> None:
        now = self.clock()
        rows = [("login", self._login_key(login))]
        if address:
            rows.append(("address", address))
        params = [
            (self.scope, kind, key, now, self.policies[kind].forget_after) for kind, key in rows
        ]
        with self._conn() as conn:  # autocommit: each statement is atomic on its own
            conn.executemany(_FAILED, params)
            if abs(now - self._pruned) > PRUNE_EVERY:
                self._prune(conn, now)

    def succeeded(self, login: str) -> None:
        """A correct password clears the login's count; the address keeps its own."""
        with self._conn() as conn:
            conn.execute(
                "DELETE FROM throttle WHERE scope = ? AND kind = 'login' AND key = ?",
                (self.scope, self._login_key(login)),
            )

    def failures(self, login: str, address: str | None = None) -> dict[str, int]:
        """The counts in force for this login (and address), for tests and the log."""
        now = self.clock()
        found = self._rows(login, address)
        kinds = ["login", "address"] if address else ["login"]
        counts = {}
        for kind in kinds:
            failures, last = found.get(kind, (0, now))
            counts[kind] = failures if now - last <= self.policies[kind].forget_after else 0
        return counts

    def _prune(self, conn: Database | sqlite3.Connection, now: float) -> None:
        """Delete the rows this throttle's policies have forgotten."""
        self._pruned = now
        for kind, policy in self.policies.items():
            conn.execute(
                "DELETE FROM throttle WHERE last < ? AND scope = ? AND kind = ?",
                (now - policy.forget_after, self.scope, kind),
            )
