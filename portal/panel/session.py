"""The panel's session: its own cookie, and the check in front of every /panel request.

The cookie (`ebok_panel`, path /panel, SameSite=Strict, HttpOnly, Secure over https, signed with
a key derived from the portal's secret key, so a resident's cookie is no panel cookie) holds only
the member's id (`sid`), auth version (`sv`), when the sign-in started (`iat`) and was last seen
(`seen`), the sign-in `stage` and the CSRF token. It is checked against the database on every
request: a member disabled, reset or signed out is out from the next request on.

Stages: after the password, a sign-in is pending until the second factor: `password` (a one-time
password must be replaced), `enrol` (no authenticator app yet: scan and confirm one), `code`
(type the app's code); then `in`. A pending sign-in lasts PENDING_SECONDS at most.

`PanelAuthMiddleware` sets `request.state.staff` (the signed-in StaffMember, else None) and
`request.state.pending` (the member half-way through signing in, else None). Without a signed-in
member, a request that carries a resident's session gets 404 for every /panel path (a resident
never opens the panel, not even its login page); anybody else may use the sign-in pages and is
sent to /panel/login from the others. Which role may use which page is portal.panel.roles'.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import itsdangerous
from starlette.requests import Request, cookie_parser
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from portal.accounts.service import Accounts
from portal.panel.staff import Staff, StaffMember
from portal.web.csrf import new_token

COOKIE = "ebok_panel"
PATH = "/panel"
IDLE_SECONDS = 15 * 60  # signed out after this long without a request
MAX_SESSION_SECONDS = 8 * 3600  # a working day, however active
PENDING_SECONDS = 10 * 60  # from the password to the second factor
SEEN_RESOLUTION = 60  # seconds between refreshes of `seen` (each one re-issues the cookie)

PASSWORD, ENROL, CODE, IN = "password", "enrol", "code", "in"
STAGE_PAGES = {
    PASSWORD: "/panel/login/password",
    ENROL: "/panel/login/enrol",
    CODE: "/panel/login/code",
}
LOGIN_PAGE = "/panel/login"
# Reachable without a signed-in member (the pages check the stage themselves).
SIGN_IN_PATHS = frozenset({LOGIN_PAGE, "/panel/logout", *STAGE_PAGES.values()})

_KEYS = ("sid", "sv", "iat", "seen", "stage")


def now() -> int:
    """Epoch seconds; one name for tests to move the clock of session expiry."""
    return int(time.time())


def cookie_key(secret_key: str) -> str:
    """The panel cookie's signing key, derived from the portal's: a resident cookie copied
    into the panel cookie does not verify."""
    return hmac.new(secret_key.encode(), b"ebok panel session", hashlib.sha256).hexdigest()


def first_stage(member: StaffMember) -> str:
    """Where a sign-in goes after the password (or after setting a new one)."""
    if member.must_change_password:
        return PASSWORD
    return CODE if member.enrolled else ENROL


def start(session: dict[str, Any], member: StaffMember, stage: str) -> None:
    """A fresh session (nothing from before survives, not even the CSRF token)."""
    session.clear()
    moment = now()
    session.update(sid=member.id, sv=member.auth_version, iat=moment, seen=moment, stage=stage)
    new_token(session)


def advance(session: dict[str, Any], stage: str, version: int | None = None) -> None:
    """The next stage of the same sign-in (a new auth version after a password change). The
    sign-in counts from when it is complete: the 8-hour cap starts there."""
    session["stage"] = stage
    if version is not None:
        session["sv"] = version
    if stage == IN:
        session["iat"] = session["seen"] = now()
    new_token(session)


def end(session: dict[str, Any]) -> None:
    session.clear()


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(value)
    return value


class ResidentSessions:
    """Whether a request carries a live resident session (the residents' cookie, verified as
    their SessionMiddleware would, and checked with the account service). The residents'
    cookie holds `aid`, `av` and `iat` (portal.accounts.auth)."""

    def __init__(self, secret_key: str, cookie: str, accounts: Accounts) -> None:
        self.signer = itsdangerous.TimestampSigner(secret_key)
        self.cookie = cookie
        self.accounts = accounts

    def __call__(self, scope: Scope) -> bool:
        value = _cookie(scope, self.cookie)
        if not value:
            return False
        try:
            data = json.loads(base64.b64decode(self.signer.unsign(value.encode())))
            account_id, version, issued_at = int(data["aid"]), int(data["av"]), str(data["iat"])
        except (itsdangerous.BadSignature, binascii.Error, ValueError, KeyError, TypeError):
            return False
        return self.accounts.session_account(account_id, version, issued_at) is not None


def _cookie(scope: Scope, name: str) -> str | None:
    """A cookie's value, parsed as Starlette parses it for its SessionMiddleware."""
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            found = cookie_parser(value.decode("latin-1")).get(name)
            if found:
                return found
    return None


NotFound = Callable[[Request], Awaitable[Response]]


class PanelAuthMiddleware:
    """Sits inside the panel's SessionMiddleware; see the module's docstring."""

    def __init__(
        self, app: ASGIApp, staff: Staff, resident: Callable[[Scope], bool], not_found: NotFound
    ) -> None:
        self.app = app
        self.staff = staff
        self.resident = resident
        self.not_found = not_found

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session: dict[str, Any] = scope["session"]
        member, stage, expired = self._check(session)
        state = scope.setdefault("state", {})
        state["staff"] = member if stage == IN else None
        state["pending"] = member if stage != IN else None
        if stage == IN:
            await self.app(scope, receive, send)
            return
        if self.resident(scope):
            await (await self.not_found(Request(scope, receive)))(scope, receive, send)
            return
        if scope["path"] in SIGN_IN_PATHS:
            await self.app(scope, receive, send)
            return
        target = LOGIN_PAGE + ("?expired=1" if expired else "")
        await RedirectResponse(target, status_code=303)(scope, receive, send)

    def _check(self, session: dict[str, Any]) -> tuple[StaffMember | None, str | None, bool]:
        """(the member, the stage, whether a session just expired)."""
        if "sid" not in session:
            return None, None, False
        try:
            staff_id, version, issued, seen = (_int(session[k]) for k in _KEYS[:4])
            stage = str(session["stage"])
        except (KeyError, ValueError):
            end(session)
            return None, None, False
        current = now()
        lifetime = MAX_SESSION_SECONDS if stage == IN else PENDING_SECONDS
        if (
            current - seen > IDLE_SECONDS
            or current - seen < -SEEN_RESOLUTION
            or current - issued > lifetime
            or stage not in (IN, *STAGE_PAGES)
        ):
            end(session)
            return None, None, True
        member = self.staff.session_member(staff_id, version)
        if member is None:
            end(session)
            return None, None, False
        if current - seen >= SEEN_RESOLUTION:
            session["seen"] = current
        return member, stage, False
