"""Closing an account (resignation) and erasing its personal data after the retention period:
the part of the account service (portal.accounts.service.Accounts) about an account's end.

Closing is immediate and final: the account can no longer sign in or reset its password and its
sessions end at once (the session check requires an active account). Its personal data (the
e-mail address and the sign-in history) is kept for `closed_account_retention_days` (a resident
who disputes something soon after resigning can still be answered), then erased by
`purge_closed`. The login and its premises links stay, so the manager's list still says who
resigned and when. Reopening is a new application and a new account.

Purging runs at the start of every `ebok accounts …` command and as `ebok accounts purge` (for
cron); it is idempotent, so running it often costs nothing.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from portal.accounts.model import (
    CLOSED,
    AccountError,
    AccountRecord,
    Closure,
    iso,
    parse_iso,
    utc_now,
)

if TYPE_CHECKING:
    from portal.accounts.service import Accounts

log = logging.getLogger("ebok.accounts")


class Closing:
    """Mixed into Accounts; every method works on the service's own connection."""

    def close_account(self: Accounts, login: str) -> AccountRecord:
        """Resignation: refuse sign-in and reset from now on and end every session."""
        record = self.require(login)
        if record.status == CLOSED:
            raise AccountError(f"account {record.login!r} is already closed")
        self.set_status(record.id, CLOSED)
        log.info("account %s closed", record.login)
        closed = self.get(record.id)
        assert closed is not None
        return closed

    def closure(self: Accounts, record: AccountRecord, retention_days: int) -> Closure | None:
        """When a closed account was closed and when its data goes (None for an open one)."""
        if record.status != CLOSED:
            return None
        row = (
            self.db()
            .execute("SELECT status_changed_at FROM accounts WHERE id = ?", (record.id,))
            .fetchone()
        )
        closed_at = parse_iso(row[0]) if row else None
        erase_after = closed_at + timedelta(days=retention_days) if closed_at else None
        erased = record.email is None and not self.sign_in_history(record.id, limit=1)
        return Closure(closed_at, erase_after, erased)

    def purge_closed(
        self: Accounts, retention_days: int, now: datetime | None = None
    ) -> list[str]:
        """Erase the e-mail address, sign-in history and e-mail notice records of accounts
        closed more than `retention_days` ago, and their login and address from the panel's
        audit log.
        Returns the logins that had something erased."""
        cutoff = iso((now or utc_now()) - timedelta(days=retention_days))
        with self.db().transaction() as conn:
            rows = conn.execute(
                "SELECT id, login, email FROM accounts a"
                " WHERE status = ? AND status_changed_at <= ?"
                " AND (email IS NOT NULL"
                "      OR EXISTS (SELECT 1 FROM sign_ins s WHERE s.account_id = a.id)"
                "      OR EXISTS (SELECT 1 FROM sign_ins s WHERE s.account_id IS NULL"
                "                 AND s.login = a.login COLLATE NOCASE)"
                "      OR EXISTS (SELECT 1 FROM audit_log l WHERE l.account_id = a.id)"
                "      OR EXISTS (SELECT 1 FROM notice_subscriptions n"
                "                 WHERE n.account_id = a.id)"
                "      OR EXISTS (SELECT 1 FROM notices_sent n WHERE n.account_id = a.id))"
                " ORDER BY login",
                (CLOSED, cutoff),
            ).fetchall()
            for account_id, login, email in rows:
                _erase_from_audit_log(conn, account_id, login, email)
                conn.execute("UPDATE accounts SET email = NULL WHERE id = ?", (account_id,))
                conn.execute(
                    "DELETE FROM sign_ins WHERE account_id = ?"
                    " OR (account_id IS NULL AND login = ? COLLATE NOCASE)",
                    (account_id, login),
                )
                conn.execute("DELETE FROM ended_sessions WHERE account_id = ?", (account_id,))
                # The e-mail notices' opt-in (with its language) and what was sent when.
                for table in ("notice_subscriptions", "notices_sent"):
                    conn.execute(f"DELETE FROM {table} WHERE account_id = ?", (account_id,))
        for _, login, _ in rows:
            log.info("account %s: personal data erased after the retention period", login)
        return [login for _, login, _ in rows]


def _erase_from_audit_log(conn, account_id: int, login: str, email: str | None) -> None:
    """The panel's audit log (portal.panel.audit) keeps the events about the account but not
    its login or e-mail address: in the entries about the account (`account_id`), an account
    target and the login or address in the details become `konto #<id> (usunięte)`, and the
    entries are no longer linked to it."""
    erased = f"konto #{account_id} (usunięte)"
    conn.execute(
        "UPDATE audit_log SET account_id = NULL,"
        " target = CASE WHEN target_kind = 'account' OR target = :login COLLATE NOCASE"
        "          THEN :erased ELSE target END,"
        " details = replace(replace(details, :login, :erased), :email, :erased)"
        " WHERE account_id = :id",
        {"id": account_id, "login": login, "email": email or login, "erased": erased},
    )
