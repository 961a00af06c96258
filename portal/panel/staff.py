"""The manager's staff: every rule about staff accounts and all of their SQL.

Staff accounts are not resident accounts: their own table (`staff`, migration 2 of
portal.accounts.schema), their own sessions (portal.panel.session) and a second factor that is
not optional. They live in the accounts database and borrow the account service's
connections (`Staff(accounts.db)`), so one database holds everything the office manages.

A new member, and one the office reset, gets a one-time password (stored only as a hash) and no
TOTP secret: the next sign-in must set a password and enrol an authenticator app. The enrolment
secret waits in `totp_pending_secret` until a code from it is accepted; only then is it the
member's `totp_secret`. Each accepted code's time step is kept, and no step at or before it is
accepted again (a code works once).

Every change that should end sessions bumps `auth_version` (password, reset, status, logout);
the session check (`session_member`) compares it on every request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ebok.database import Database, IntegrityError
from portal.accounts import passwords
from portal.accounts.model import check_email, check_login, iso, parse_iso, utc_now
from portal.panel.roles import ROLES

log = logging.getLogger("ebok.panel")

ACTIVE, DISABLED = "active", "disabled"
STATUSES = (ACTIVE, DISABLED)


class StaffError(ValueError):
    """A request about staff that cannot be honoured (duplicate login, unknown member…)."""


@dataclass(frozen=True)
class StaffMember:
    """One row of `staff`. The secrets stay out of repr()."""

    id: int
    login: str
    email: str | None
    role: str
    status: str
    must_change_password: bool
    auth_version: int
    created_at: datetime
    last_login_at: datetime | None
    password_hash: str = field(repr=False)
    totp_secret: str | None = field(repr=False)
    totp_pending_secret: str | None = field(repr=False)

    @property
    def active(self) -> bool:
        return self.status == ACTIVE

    @property
    def enrolled(self) -> bool:
        """Has a confirmed TOTP secret (an authenticator app)."""
        return self.totp_secret is not None


_COLUMNS = (
    "id, login, email, role, status, must_change_password, auth_version, created_at,"
    " last_login_at, password_hash, totp_secret, totp_pending_secret"
)


def _member(row: tuple) -> StaffMember:
    return StaffMember(
        id=row[0],
        login=row[1],
        email=row[2],
        role=row[3],
        status=row[4],
        must_change_password=bool(row[5]),
        auth_version=row[6],
        created_at=parse_iso(row[7]),  # type: ignore[arg-type]
        last_login_at=parse_iso(row[8]),
        password_hash=row[9],
        totp_secret=row[10],
        totp_pending_secret=row[11],
    )


def check_role(role: str) -> str:
    if role not in ROLES:
        raise StaffError(f"unknown role {role!r} (one of: {', '.join(ROLES)})")
    return role


class Staff:
    """The staff table. `db` gives this thread's connection to the accounts database (in the
    app and the commands: `Accounts.db`). Safe to share between threads."""

    def __init__(self, db: Callable[[], Database]) -> None:
        self.db = db

    def _one(self, sql: str, params: tuple = ()) -> StaffMember | None:
        row = self.db().execute(f"SELECT {_COLUMNS} FROM staff {sql}", params).fetchone()
        return _member(row) if row else None

    # -- reading ------------------------------------------------------------------------------
    def get(self, staff_id: int) -> StaffMember | None:
        return self._one("WHERE id = ?", (staff_id,))

    def by_login(self, login: str) -> StaffMember | None:
        return self._one("WHERE login = ?", (login.strip(),))

    def require(self, login: str) -> StaffMember:
        member = self.by_login(login)
        if member is None:
            raise StaffError(f"no staff member with login {login!r}")
        return member

    def list(self) -> list[StaffMember]:
        rows = self.db().execute(f"SELECT {_COLUMNS} FROM staff ORDER BY login").fetchall()
        return [_member(r) for r in rows]

    def session_member(self, staff_id: int, version: int) -> StaffMember | None:
        """The member behind a panel session, or None when it no longer counts (disabled,
        password changed, reset, signed out). Asked on every panel request."""
        return self._one(
            "WHERE id = ? AND auth_version = ? AND status = 'active'", (staff_id, version)
        )

    # -- creating, status, passwords ----------------------------------------------------------
    def create(
        self, login: str, role: str, *, email: str | None = None
    ) -> tuple[StaffMember, str]:
        """A new member with a one-time password (returned, to hand over; stored as a hash)."""
        try:
            login, email = check_login(login), check_email(email)
        except ValueError as exc:
            raise StaffError(str(exc)) from exc
        check_role(role)
        password = passwords.generate_one_time_password()
        try:
            ((staff_id,),) = self.db().execute(
                "INSERT INTO staff (login, password_hash, email, role, created_at)"
                " VALUES (?, ?, ?, ?, ?) RETURNING id",
                (login, passwords.hash_password(password), email, role, iso(utc_now())),
            ).fetchall()
        except IntegrityError as exc:
            raise StaffError(f"login {login!r} is already taken") from exc
        member = self.get(staff_id)
        assert member is not None
        log.info("staff member %s created (%s)", login, role)
        return member, password

    def set_status(self, staff_id: int, status: str) -> bool:
        """Enable or disable; disabling ends every session. True when the status changed."""
        if status not in STATUSES:
            raise StaffError(f"unknown status {status!r}")
        cur = self.db().execute(
            "UPDATE staff SET status = ?, status_changed_at = ?, auth_version = auth_version + 1"
            " WHERE id = ? AND status != ?",
            (status, iso(utc_now()), staff_id, status),
        )
        return cur.rowcount == 1

    def reset(self, login: str) -> tuple[StaffMember, str]:
        """A new one-time password; the authenticator app is forgotten (the next sign-in enrols
        again) and every session ends. Returns the member and the password."""
        member = self.require(login)
        password = passwords.generate_one_time_password()
        self.db().execute(
            "UPDATE staff SET password_hash = ?, must_change_password = 1, totp_secret = NULL,"
            " totp_pending_secret = NULL, totp_last_step = NULL, password_changed_at = ?,"
            " auth_version = auth_version + 1 WHERE id = ?",
            (passwords.hash_password(password), iso(utc_now()), member.id),
        )
        log.info("staff member %s reset: one-time password issued", member.login)
        updated = self.get(member.id)
        assert updated is not None
        return updated, password

    def set_password(self, staff_id: int, password_hash: str) -> int:
        """The member's own new password; ends every other session. Returns the new version."""
        row = (
            self.db()
            .execute(
                "UPDATE staff SET password_hash = ?, must_change_password = 0,"
                " password_changed_at = ?, auth_version = auth_version + 1"
                " WHERE id = ? RETURNING auth_version",
                (password_hash, iso(utc_now()), staff_id),
            )
            .fetchone()
        )
        if row is None:
            raise StaffError(f"no staff member with id {staff_id}")
        return row[0]

    def rehash_password(self, staff_id: int, password_hash: str) -> None:
        """Same password, stronger hash parameters; sessions stay."""
        self.db().execute(
            "UPDATE staff SET password_hash = ? WHERE id = ?", (password_hash, staff_id)
        )

    def end_sessions(self, staff_id: int) -> None:
        """Sign out everywhere (the panel's logout): every copy of every cookie stops working."""
        self.db().execute(
            "UPDATE staff SET auth_version = auth_version + 1 WHERE id = ?", (staff_id,)
        )

    def signed_in(self, staff_id: int) -> None:
        self.db().execute(
            "UPDATE staff SET last_login_at = ? WHERE id = ?", (iso(utc_now()), staff_id)
        )

    # -- TOTP ---------------------------------------------------------------------------------
    def pending_secret(self, staff_id: int, new_secret: Callable[[], str]) -> str:
        """The secret being enrolled: the one shown before (a reload shows the same QR code),
        or `new_secret()` stored as pending."""
        self.db().execute(
            "UPDATE staff SET totp_pending_secret = ? WHERE id = ? AND totp_pending_secret IS NULL",
            (new_secret(), staff_id),
        )
        row = (
            self.db()
            .execute("SELECT totp_pending_secret FROM staff WHERE id = ?", (staff_id,))
            .fetchone()
        )
        if row is None or row[0] is None:
            raise StaffError(f"no staff member with id {staff_id}")
        return row[0]

    def complete_enrolment(self, staff_id: int, secret: str, step: int) -> bool:
        """The pending `secret` becomes the member's, with `step` (the code that confirmed it)
        used up. False when the pending secret changed meanwhile."""
        cur = self.db().execute(
            "UPDATE staff SET totp_secret = totp_pending_secret, totp_pending_secret = NULL,"
            " totp_last_step = ? WHERE id = ? AND totp_pending_secret = ?",
            (step, staff_id, secret),
        )
        return cur.rowcount == 1

    def use_step(self, staff_id: int, step: int) -> bool:
        """Mark a code's time step used; False when it (or a later one) already was: a replayed
        code. One statement, so two requests racing with the same code cannot both win."""
        cur = self.db().execute(
            "UPDATE staff SET totp_last_step = ? WHERE id = ?"
            " AND (totp_last_step IS NULL OR totp_last_step < ?)",
            (step, staff_id, step),
        )
        return cur.rowcount == 1
