"""Who is signed in: the session check on every request, and the /login and /logout routes.

The signed cookie (Starlette's SessionMiddleware) holds only the account id, its auth version,
the sign-in time and a last-seen time, plus the CSRF token. Starlette signs but cannot revoke a
cookie, so every request compares them with the database (one indexed query, its answer reused
only while the database is unchanged and for a second at most: `Accounts.session_account`): a
password change or a disabled account bumps the version, a logout records the one ended
session, and a copied cookie stops working in every case, from the next request on.

Idle expiry needs its own clock: the cookie is re-issued only when the session changes, so
`seen` is refreshed at most once a minute, which keeps most responses free of Set-Cookie.
"""

from __future__ import annotations

import enum
import functools
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from portal.accounts import passwords
from portal.accounts.service import CLOSED, Account, Accounts, parse_iso
from portal.i18n import N_, current_locale, plural_pl
from portal.i18n import gettext as _
from portal.web.csrf import new_token
from portal.web.templating import templates

log = logging.getLogger("ebok.auth")

SEEN_RESOLUTION = 60  # seconds between refreshes of `seen` (each one re-issues the cookie)
MAX_SESSION_SECONDS = 12 * 3600  # a sign-in lasts a working day at most, however active

# Reachable without signing in.
PUBLIC_PATHS = frozenset({"/login", "/healthz", "/password/forgot"})
PUBLIC_PREFIXES = ("/static/", "/password/reset", "/notices/unsubscribe/")
# Reachable by an account that must first change its one-time password.
FORCED_CHANGE_PATHS = frozenset({"/password/change", "/logout", "/healthz"})

_SESSION_KEYS = ("aid", "av", "iat", "seen")


class Verdict(enum.Enum):
    """What `AuthMiddleware.check` found a session to be worth."""

    FRESH = "an account, nothing to change"
    REFRESH = "an account; `seen` is due to be refreshed"
    EXPIRED = "idle for too long, or signed in too long ago"
    ENDED = "malformed, or no longer counted by the database"
    NONE = "nobody signed in"


_FRESH, _REFRESH, _EXPIRED = Verdict.FRESH, Verdict.REFRESH, Verdict.EXPIRED

# Polish message ids (portal.i18n), translated where the page is rendered.
MSG_INVALID = N_("Nieprawidłowy login lub hasło.")
MSG_DISABLED = N_("To konto jest zablokowane. Skontaktuj się z zarządcą wspólnoty.")
MSG_CLOSED = N_("To konto zostało zamknięte. Aby znów korzystać z EBOK, złóż wniosek u zarządcy.")
MSG_EXPIRED = N_("Sesja wygasła z powodu braku aktywności. Zaloguj się ponownie.")
MSG_LOGGED_OUT = N_("Wylogowano.")
MSG_PASSWORD_CHANGED = N_("Hasło zostało zmienione.")


def now() -> int:
    """Epoch seconds; one name for tests to move the clock of session expiry."""
    return int(time.time())


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def start_session(session: dict[str, Any], account_id: int, version: int, issued_at: str) -> None:
    """A fresh session for a new sign-in: nothing from before it survives, not even the CSRF
    token (so a token planted on the login form cannot be reused afterwards)."""
    session.clear()
    session.update(aid=account_id, av=version, iat=issued_at, seen=now())
    new_token(session)


def end_session(session: dict[str, Any]) -> None:
    for key in _SESSION_KEYS:
        session.pop(key, None)


class AuthMiddleware:
    """Sets `request.state.account` (an `Account` or None) and keeps signed-out visitors and
    accounts with a pending password change where they belong. Sits inside SessionMiddleware."""

    def __init__(self, app: ASGIApp, accounts: Accounts, idle_minutes: int) -> None:
        self.app = app
        self.accounts = accounts
        self.idle_seconds = idle_minutes * 60

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        session: dict[str, Any] = scope["session"]
        if path.startswith("/static/"):
            # Stylesheets and icons are public and need no database lookup.
            scope.setdefault("state", {})["account"] = None
            await self.app(scope, receive, send)
            return
        account, expired = self._account(session)
        scope.setdefault("state", {})["account"] = account
        if account is None and not is_public(path):
            target = "/login?expired=1" if expired else _login_url(scope)
            await RedirectResponse(target, status_code=303)(scope, receive, send)
            return
        if account is not None and account.must_change_password and path not in FORCED_CHANGE_PATHS:
            await RedirectResponse("/password/change", status_code=303)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _account(self, session: dict[str, Any]) -> tuple[Account | None, bool]:
        """(the account, whether a session just expired); ends a session that no longer
        counts and refreshes `seen` when it is due."""
        account, verdict, current = self.check(session)
        if verdict is _REFRESH:
            session["seen"] = current
        elif verdict is _EXPIRED or verdict is Verdict.ENDED:
            end_session(session)
        return account, verdict is _EXPIRED

    def check(self, session: Mapping[str, Any]) -> tuple[Account | None, Verdict, int]:
        """What the session is worth now, without changing it: (the account or None, the
        verdict, the time judged at). The database is asked on every call
        (`Accounts.session_account`)."""
        if "aid" not in session:
            return None, Verdict.NONE, 0
        try:
            account_id = int(session["aid"])
            version = int(session["av"])
            issued_at = str(session["iat"])
            seen = int(session["seen"])
        except (KeyError, TypeError, ValueError):
            return None, Verdict.ENDED, 0
        current = now()
        started = _epoch(issued_at)
        if (
            current - seen > self.idle_seconds
            or current - seen < -SEEN_RESOLUTION
            or started is None
            or current - started > MAX_SESSION_SECONDS
        ):
            return None, _EXPIRED, current
        account = self.accounts.session_account(account_id, version, issued_at)
        if account is None:
            return None, Verdict.ENDED, current
        if current - seen >= SEEN_RESOLUTION:
            return account, _REFRESH, current
        return account, _FRESH, current

    def settled_account(self, session: Mapping[str, Any]) -> Account | None:
        """The account of a session that this middleware would let through to any page
        unchanged: signed in, not expired, counted by the database, `seen` not due for a
        refresh, no password change pending. None for any other session (the full stack
        then decides what happens: a redirect, a refreshed cookie...)."""
        account, verdict, _ = self.check(session)
        if verdict is not _FRESH or account is None or account.must_change_password:
            return None
        return account


@functools.lru_cache(maxsize=4096)
def _epoch(issued_at: str) -> int | None:
    """The sign-in time of a session as epoch seconds (a pure function of the stored text,
    remembered: every request of a session asks it again)."""
    try:
        moment = parse_iso(issued_at)
    except ValueError:
        return None
    return int(moment.timestamp()) if moment else None


def _login_url(scope: Scope) -> str:
    path = scope["path"]
    if scope["method"] != "GET" or path == "/":
        return "/login"
    # raw_path keeps an encoded `/` inside a premises id (`KW5%2F12`) as the link had it.
    raw = scope.get("raw_path")
    if raw:
        path = raw.decode("latin-1")
    query = scope.get("query_string", b"").decode("latin-1")
    target = path + ("?" + query if query else "")
    return "/login?" + urlencode({"next": target})


def safe_next(value: str | None) -> str:
    """Where to go after signing in: only a path on this site, never another host."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


def _render_login(
    request: Request,
    *,
    error: str | None = None,
    status_code: int = 200,
    login: str = "",
    next_url: str | None = None,
) -> Response:
    notice = None
    if request.query_params.get("expired"):
        notice = MSG_EXPIRED
    elif request.query_params.get("logged_out"):
        notice = MSG_LOGGED_OUT
    elif request.query_params.get("changed"):
        notice = MSG_PASSWORD_CHANGED
    return templates.TemplateResponse(
        request,
        "login.html",
        {
            "error": _(error) if error else None,
            "notice": _(notice) if notice else None,
            "login": login,
            "next": next_url or safe_next(request.query_params.get("next")),
        },
        status_code=status_code,
    )


async def login_page(request: Request) -> Response:
    if request.state.account is not None:
        return RedirectResponse("/", status_code=303)
    return _render_login(request)


async def login_submit(request: Request) -> Response:
    accounts: Accounts = request.app.state.accounts
    throttle = request.app.state.throttle
    form = await request.form()
    login = str(form.get("login") or "").strip()[:200]
    password = str(form.get("password") or "")[: passwords.MAX_LENGTH * 4]
    client = client_address(request)
    next_url = safe_next(str(form.get("next") or ""))

    wait = throttle.wait_seconds(login, client)
    if wait > 0:
        record = accounts.by_login(login) if login else None
        accounts.record_sign_in(
            login, record.id if record else None, success=False, client=client, reason="throttled"
        )
        message = _("Zbyt wiele nieudanych prób logowania. Spróbuj ponownie za %(wait)s.") % {
            "wait": _seconds_pl(wait)
        }
        response = _render_login(
            request, error=message, status_code=429, login=login, next_url=next_url
        )
        response.headers["retry-after"] = str(wait)
        return response

    record = accounts.by_login(login) if login else None
    # Unknown logins verify a dummy hash, so the answer takes as long as a wrong password.
    stored = record.password_hash if record else passwords.dummy_hash()
    ok = await run_in_threadpool(passwords.verify_password, stored, password)
    if not ok or record is None:
        throttle.failed(login, client)
        accounts.record_sign_in(
            login,
            record.id if record else None,
            success=False,
            client=client,
            reason="unknown login" if record is None else "wrong password",
        )
        log.warning("sign-in failed: login=%r client=%s", login, client)
        return _render_login(
            request, error=MSG_INVALID, status_code=400, login=login, next_url=next_url
        )
    if not record.active:
        # The password was right, so saying why is no help to a guesser.
        closed = record.status == CLOSED
        accounts.record_sign_in(
            login, record.id, success=False, client=client, reason=record.status
        )
        message = MSG_CLOSED if closed else MSG_DISABLED
        return _render_login(request, error=message, status_code=403, login=login)

    throttle.succeeded(login)
    if passwords.needs_rehash(record.password_hash):
        fresh = await run_in_threadpool(passwords.hash_password, password)
        accounts.rehash_password(record.id, fresh)
    stamp = accounts.record_sign_in(record.login, record.id, success=True, client=client)
    start_session(request.session, record.id, record.auth_version, stamp)
    log.info("signed in: login=%r client=%s", record.login, client)
    target = "/password/change" if record.must_change_password else next_url
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    account = request.state.account
    if account is not None:
        request.app.state.accounts.end_session(account.id, str(request.session.get("iat")))
    request.session.clear()
    return RedirectResponse("/login?logged_out=1", status_code=303)


def _seconds_pl(seconds: int) -> str:
    """`1 sekundę`, `3 sekundy`, `5 sekund` (English: `1 second`, `5 seconds`)."""
    if current_locale() == "en":
        return f"{seconds} second" + ("" if seconds == 1 else "s")
    return f"{seconds} " + plural_pl(seconds, "sekundę", "sekundy", "sekund")


routes = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login_submit, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
]
