"""Every SQL statement of the notices, on the accounts database (migration 5 of
portal.accounts.schema): who opted in, in which language, and what was sent.

Kept plain and portable (no SQLite-only functions; `ON CONFLICT` upserts as PostgreSQL writes
them) so the statements move to another database unchanged.

A subscription row stays once made: switching off sets `enabled` to 0, switching on again
bumps `version`, which every unsubscribe link carries, so a link from before dies then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from portal.accounts.model import iso, utc_now


@dataclass(frozen=True)
class Subscription:
    account_id: int
    enabled: bool
    version: int
    language: str


@dataclass(frozen=True)
class Subscriber:
    """An account that gets notices now: active, with an e-mail address, opted in."""

    account_id: int
    login: str
    email: str
    version: int
    language: str
    premises_ids: tuple[str, ...]


class NoticesStore:
    """`db` gives the accounts database (Accounts.db): `execute(sql, params)` in autocommit
    mode, answering with a cursor-like result."""

    def __init__(self, db: Callable[[], Any]) -> None:
        self.db = db

    # -- the opt-in -----------------------------------------------------------------------------
    def subscription(self, account_id: int) -> Subscription | None:
        row = (
            self.db()
            .execute(
                "SELECT enabled, version, language FROM notice_subscriptions WHERE account_id = ?",
                (account_id,),
            )
            .fetchone()
        )
        if row is None:
            return None
        return Subscription(account_id, bool(row[0]), row[1], row[2])

    def subscribe(self, account_id: int, language: str) -> Subscription:
        """Switch notices on (the version grows only when they were off: saving the settings
        again keeps the links of earlier messages working)."""
        self.db().execute(
            "INSERT INTO notice_subscriptions (account_id, enabled, version, language,"
            " changed_at) VALUES (?, 1, 1, ?, ?)"
            " ON CONFLICT (account_id) DO UPDATE SET"
            " version = CASE WHEN notice_subscriptions.enabled = 1"
            " THEN notice_subscriptions.version ELSE notice_subscriptions.version + 1 END,"
            " enabled = 1, language = excluded.language, changed_at = excluded.changed_at",
            (account_id, language, iso(utc_now())),
        )
        found = self.subscription(account_id)
        assert found is not None
        return found

    def unsubscribe(self, account_id: int, version: int | None = None) -> bool:
        """Switch notices off; with `version`, only if the subscription still has it (an
        unsubscribe link). True when this call switched them off."""
        sql = (
            "UPDATE notice_subscriptions SET enabled = 0, changed_at = ?"
            " WHERE account_id = ? AND enabled = 1"
        )
        params: tuple = (iso(utc_now()), account_id)
        if version is not None:
            sql += " AND version = ?"
            params += (version,)
        return self.db().execute(sql, params).rowcount == 1

    # -- who gets notices ------------------------------------------------------------------------
    def subscribers(self) -> list[Subscriber]:
        """Active accounts with an e-mail address and notices on, with their premises."""
        conn = self.db()
        rows = conn.execute(
            "SELECT a.id, a.login, a.email, s.version, s.language"
            "  FROM notice_subscriptions s JOIN accounts a ON a.id = s.account_id"
            " WHERE s.enabled = 1 AND a.status = 'active'"
            "   AND a.email IS NOT NULL AND a.email <> ''"
            " ORDER BY a.id"
        ).fetchall()
        premises: dict[int, list[str]] = {}
        for account_id, premises_id in conn.execute(
            "SELECT p.account_id, p.premises_id FROM account_premises p"
            "  JOIN notice_subscriptions s ON s.account_id = p.account_id"
            " WHERE s.enabled = 1 ORDER BY p.account_id, p.premises_id"
        ):
            premises.setdefault(account_id, []).append(premises_id)
        return [
            Subscriber(aid, login, email, version, language, tuple(premises.get(aid, ())))
            for aid, login, email, version, language in rows
        ]

    # -- what was sent ---------------------------------------------------------------------------
    def already_notified(self, account_id: int, generation: str, content_digest: str) -> bool:
        """Whether this account was notified about this generation, or about one with the
        same content (the same data rolled back and published again)."""
        row = (
            self.db()
            .execute(
                "SELECT 1 FROM notices_sent WHERE account_id = ?"
                " AND (generation = ? OR content_digest = ?)",
                (account_id, generation, content_digest),
            )
            .fetchone()
        )
        return row is not None

    def record_sent(self, account_id: int, generation: str, content_digest: str) -> bool:
        """Remember a notice before it is queued (at most once, even if the process dies
        between the two); False when another run recorded it first."""
        cursor = self.db().execute(
            "INSERT INTO notices_sent (account_id, generation, content_digest, sent_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (account_id, generation) DO NOTHING",
            (account_id, generation, content_digest, iso(utc_now())),
        )
        return cursor.rowcount == 1
