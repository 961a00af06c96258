"""The session check of every request and the end of one session (logout): the part of the
account service (portal.accounts.service.Accounts) that says whether a session cookie still
counts. The cookie itself is portal.web.session's; the sign-in that issues it, portal.accounts.auth.

A session counts while its account is active, its auth version is the account's (a password
change, a reset, disabling or closing bumps it) and it was not ended by logout. The answer is
reused per thread while the database is unchanged and for SESSION_CACHE_SECONDS at most.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ebok.database import Database
from portal.accounts.model import Account, iso, parse_iso, utc_now

if TYPE_CHECKING:
    from portal.accounts.service import Accounts

# The session check's answers are reused for at most this long (and only while the database is
# unchanged); a bound on how long any revocation could take, documented in docs/benchmarks.md.
SESSION_CACHE_SECONDS = 1.0
SESSION_CACHE_SIZE = 4096

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


class Sessions:
    """Mixed into Accounts; the cache lives in the service's per-thread state, timed by its
    `clock` and stamped by the database (or, on PostgreSQL, by the service's own writes)."""

    def session_account(
        self: Accounts, account_id: int, version: int, issued_at: str
    ) -> Account | None:
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

    def end_session(self: Accounts, account_id: int, issued_at: str) -> None:
        """Refuse from now on the one session issued at `issued_at` (logout), wherever its
        cookie was copied to. Old entries are pruned: sessions cannot outlive a day."""
        now = utc_now()
        self._write(
            "INSERT INTO ended_sessions VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (account_id, issued_at, iso(now)),
        )
        cutoff = iso(datetime.fromtimestamp(now.timestamp() - 2 * 86400, UTC))
        self._write("DELETE FROM ended_sessions WHERE ended_at < ?", (cutoff,))
