"""The sign-in history: every attempt recorded (never the password), shown to the resident and the
manager, and forgotten after a year; the part of the account service
(portal.accounts.service.Accounts) that keeps it. Whether a sign-in succeeds is decided by
portal.accounts.auth; closing.py erases a closed account's history after its retention period.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from portal.accounts.model import iso, parse_iso, utc_now

if TYPE_CHECKING:
    from portal.accounts.service import Accounts

# Sign-in attempts carry client addresses (personal data): kept a year, for the resident's and
# the manager's questions about account use, then forgotten.
SIGN_IN_RETENTION_DAYS = 365


class SignIns:
    """Mixed into Accounts; every method works on the service's own connection."""

    def record_sign_in(
        self: Accounts,
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

    def sign_in_history(self: Accounts, account_id: int, limit: int = 20) -> list[dict]:
        rows = self.db().execute(
            "SELECT at, client, success, reason FROM sign_ins WHERE account_id = ?"
            " ORDER BY at DESC LIMIT ?",
            (account_id, limit),
        )
        return [
            {"at": parse_iso(at), "client": client, "success": bool(ok), "reason": reason}
            for at, client, ok, reason in rows
        ]

    def prune_sign_ins(self: Accounts, keep_days: int = SIGN_IN_RETENTION_DAYS) -> int:
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
