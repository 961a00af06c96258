"""What an account is: its statuses, the login rule, the stored time format and the records the
account service returns. No SQL here; the service (portal.accounts.service and the parts it is
made of: sessions, sign_ins, search, closing, records) has all of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

ACTIVE, DISABLED, CLOSED = "active", "disabled", "closed"
STATUSES = (ACTIVE, DISABLED, CLOSED)

MAX_LOGIN_LENGTH = 64


class AccountError(ValueError):
    """A request the accounts cannot honour (duplicate login, unknown account...)."""


def check_login(login: str) -> str:
    """The login as stored: one word a resident can type, without spaces or control characters
    (it is typed on the sign-in form and printed in letters)."""
    login = login.strip()
    if not login:
        raise AccountError("login must not be empty")
    if len(login) > MAX_LOGIN_LENGTH:
        raise AccountError(f"login is longer than {MAX_LOGIN_LENGTH} characters")
    if any(c.isspace() or not c.isprintable() for c in login):
        raise AccountError(f"login {login!r} must not contain spaces or control characters")
    return login


def check_email(email: str | None) -> str | None:
    """The address as stored (None: no address). Something that cannot be an address is refused:
    reset links and notices go there."""
    if email is None:
        return None
    email = email.strip()
    local, at, domain = email.partition("@")
    if not (local and at and "." in domain and not any(c.isspace() for c in email)):
        raise AccountError(f"{email!r} is not an e-mail address")
    return email


def check_premises_id(premises_id: str) -> str:
    if not premises_id.strip():
        raise AccountError("premises id must not be empty")
    return premises_id


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Fixed-width UTC text, so that stored timestamps sort and compare as strings."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text)  # 3.11+ reads the trailing Z as UTC


@dataclass(frozen=True)
class Account:
    """What the portal knows about the signed-in resident (`request.state.account`)."""

    id: int
    login: str
    premises_ids: tuple[str, ...]
    previous_login_at: datetime | None
    must_change_password: bool
    email: str | None


@dataclass(frozen=True)
class AccountRecord:
    """A full row, for administration and sign-in; carries the password hash."""

    id: int
    login: str
    password_hash: str
    email: str | None
    status: str
    must_change_password: bool
    auth_version: int
    created_at: datetime
    premises_ids: tuple[str, ...]
    last_login_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    @property
    def can_recover(self) -> bool:
        """Self-service password recovery needs an active account with an e-mail address."""
        return self.status == ACTIVE and bool(self.email)


@dataclass(frozen=True)
class Closure:
    """A closed account's state as the manager's list shows it."""

    closed_at: datetime | None
    erase_after: datetime | None
    erased: bool
