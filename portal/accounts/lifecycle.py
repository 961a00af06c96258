"""What happens to an account after it is opened: a reset at the office, resignation, and the
erasure of a closed account's personal data once the retention period is over.

Closing is immediate and final: the account can no longer sign in or reset its password and its
sessions end at once (the session check requires an active account). Its personal data (the
e-mail address and the sign-in history) is kept for `closed_account_retention_days` (a resident
who disputes something soon after resigning can still be answered), then erased by `purge_closed`.
The login and its premises links stay, so the manager's list still says who resigned and when.
Reopening is a new application and a new account.

Purging runs at the start of every `ebok accounts …` command, when `ebok serve` starts, and as
`ebok accounts purge` (for cron); it is idempotent, so running it often costs nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from ebok.settings import Settings
from portal.accounts.mail import Mailer, compose
from portal.accounts.passwords import generate_one_time_password, hash_password
from portal.accounts.service import (
    ACTIVE,
    CLOSED,
    AccountError,
    AccountRecord,
    Accounts,
    iso,
    parse_iso,
    utc_now,
)
from portal.web.format import datetime_pl

log = logging.getLogger("ebok.accounts")

PASSWORD_CHANGED_SUBJECT = "Hasło do EBOK zostało zmienione"

# How a password changed, as the notice tells the resident.
HOW_CHANGED = {
    "self": "zmiana hasła po zalogowaniu",
    "reset-link": "odnośnik z wiadomości „Nie pamiętam hasła”",
    "office": "nowe hasło jednorazowe wydane w biurze zarządcy",
}


@dataclass(frozen=True)
class Closure:
    """A closed account's state as the manager's list shows it."""

    closed_at: datetime | None
    erase_after: datetime | None
    erased: bool


def close_account(accounts: Accounts, login: str) -> AccountRecord:
    """Resignation: refuse sign-in and reset from now on and end every session."""
    record = accounts.require(login)
    if record.status == CLOSED:
        raise AccountError(f"account {record.login!r} is already closed")
    accounts.set_status(record.id, CLOSED)
    log.info("account %s closed", record.login)
    closed = accounts.get(record.id)
    assert closed is not None
    return closed


def office_reset(accounts: Accounts, login: str) -> tuple[AccountRecord, str]:
    """A new one-time password for a resident at the office: the old password stops working,
    every session ends and the next sign-in must set a password of the resident's own.
    Returns the account and the password (to print; it is stored only as a hash)."""
    record = accounts.require(login)
    if record.status == CLOSED:
        raise AccountError(
            f"account {record.login!r} is closed; a resident who returns needs a new account"
        )
    password = generate_one_time_password()
    accounts.set_password(record.id, hash_password(password), must_change=True)
    log.info("account %s: one-time password issued at the office", record.login)
    updated = accounts.get(record.id)
    assert updated is not None
    return updated, password


def closure(accounts: Accounts, record: AccountRecord, retention_days: int) -> Closure | None:
    """When a closed account was closed and when its data goes (None for an open account)."""
    if record.status != CLOSED:
        return None
    row = (
        accounts.db()
        .execute("SELECT status_changed_at FROM accounts WHERE id = ?", (record.id,))
        .fetchone()
    )
    closed_at = parse_iso(row[0]) if row else None
    erase_after = closed_at + timedelta(days=retention_days) if closed_at else None
    erased = record.email is None and not accounts.sign_in_history(record.id, limit=1)
    return Closure(closed_at, erase_after, erased)


def purge_closed(accounts: Accounts, retention_days: int, now: datetime | None = None) -> list[str]:
    """Erase the e-mail address and sign-in history of accounts closed more than
    `retention_days` ago. Returns the logins that had something erased."""
    cutoff = iso((now or utc_now()) - timedelta(days=retention_days))
    conn = accounts.db()
    conn.execute("BEGIN IMMEDIATE")
    try:
        rows = conn.execute(
            "SELECT id, login FROM accounts a WHERE status = ? AND status_changed_at <= ?"
            " AND (email IS NOT NULL"
            "      OR EXISTS (SELECT 1 FROM sign_ins s WHERE s.account_id = a.id)"
            "      OR EXISTS (SELECT 1 FROM sign_ins s WHERE s.account_id IS NULL"
            "                 AND s.login = a.login COLLATE NOCASE))"
            " ORDER BY login",
            (CLOSED, cutoff),
        ).fetchall()
        for account_id, login in rows:
            conn.execute("UPDATE accounts SET email = NULL WHERE id = ?", (account_id,))
            conn.execute(
                "DELETE FROM sign_ins WHERE account_id = ?"
                " OR (account_id IS NULL AND login = ? COLLATE NOCASE)",
                (account_id, login),
            )
            conn.execute("DELETE FROM ended_sessions WHERE account_id = ?", (account_id,))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    for _, login in rows:
        log.info("account %s: personal data erased after the retention period", login)
    return [login for _, login in rows]


def purge_for(settings: Settings, accounts: Accounts) -> list[str]:
    return purge_closed(accounts, settings.closed_account_retention_days)


def can_recover(record: AccountRecord | None) -> bool:
    """Self-service recovery needs an active account with an e-mail address."""
    return record is not None and record.status == ACTIVE and bool(record.email)


class HasLoginAndEmail(Protocol):
    login: str
    email: str | None


def notify_password_changed(
    mailer: Mailer, settings: Settings, record: HasLoginAndEmail, how: str
) -> bool:
    """Queue the 'your password changed' notice; False when the account has no e-mail. A
    notice that cannot be delivered never stops the change itself."""
    if not record.email:
        return False
    try:
        msg = compose(
            settings,
            record.email,
            PASSWORD_CHANGED_SUBJECT,
            "password_changed",
            {
                "login": record.login,
                "when": datetime_pl(utc_now()),
                "how": HOW_CHANGED.get(how, how),
            },
        )
        mailer.send(msg)
    except Exception:
        log.exception("account %s: could not queue the password-changed notice", record.login)
        return False
    return True
