"""Signing in to the panel: password, then the authenticator app's code; /panel/logout.

    /panel/login            login + password (a one-time password too)
    /panel/login/password   after a one-time password: set one's own (the residents' rules)
    /panel/login/enrol      no app yet: the secret as text and as a QR code; a code confirms it
    /panel/login/code       the app's code (field `code`); then the member is signed in

The session's stage (portal.panel.session) says which of these a pending sign-in may use; any
other is sent where it belongs. Failed passwords and failed codes are throttled like residents'
sign-ins (portal.accounts.throttle, the panel's own instance, keys `staff:` and `staff-code:`),
and every outcome is in the audit log.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal.accounts import passwords
from portal.accounts.auth import _seconds_pl as seconds_pl
from portal.accounts.auth import client_address
from portal.accounts.throttle import Throttle
from portal.i18n import N_
from portal.i18n import gettext as _
from portal.panel import session, totp
from portal.panel.audit import Actor, audit
from portal.panel.pages import render
from portal.panel.staff import Staff, StaffMember

log = logging.getLogger("ebok.panel")

HOME = "/panel/"
PASSWORD_KEY, CODE_KEY = "staff:", "staff-code:"

# Message ids (portal.i18n), translated by portal.panel.pages.render.
MSG_INVALID = N_("Nieprawidłowy login lub hasło.")
MSG_DISABLED = N_("To konto pracownika jest zablokowane. Skontaktuj się z administratorem panelu.")
MSG_CODE = N_("Nieprawidłowy kod. Wpisz 6 cyfr, które aplikacja pokazuje w tej chwili.")
MSG_REPLAY = N_("Ten kod został już użyty. Poczekaj, aż aplikacja pokaże następny.")
MSG_EXPIRED = N_("Sesja wygasła. Zaloguj się ponownie.")
MSG_LOGGED_OUT = N_("Wylogowano z panelu.")
MSG_MISMATCH = N_("Nowe hasło i jego powtórzenie różnią się.")
MSG_SAME = N_("Nowe hasło musi różnić się od jednorazowego.")
THROTTLED = "zbyt wiele nieudanych prób: wstrzymane"


def _throttled(request: Request, key: str) -> int:
    throttle: Throttle = request.app.state.panel_throttle
    return throttle.wait_seconds(key, client_address(request))


def _too_many(wait: int) -> str:
    return _("Zbyt wiele nieudanych prób. Spróbuj ponownie za %(wait)s.") % {
        "wait": seconds_pl(wait)
    }


def _pending(request: Request, stage: str) -> StaffMember | None:
    """The member signing in, if the sign-in is at `stage`."""
    member = request.state.pending
    if member is None or request.session.get("stage") != stage:
        return None
    return member


def _elsewhere(request: Request) -> Response:
    """Where a request for the wrong stage goes: its own stage's page, or the login page."""
    if request.state.staff is not None:
        return RedirectResponse(HOME, status_code=303)
    stage = request.session.get("stage") if request.state.pending else None
    return RedirectResponse(session.STAGE_PAGES.get(stage, session.LOGIN_PAGE), status_code=303)


def _signed_in(request: Request, member: StaffMember) -> Response:
    request.app.state.staff.signed_in(member.id)
    audit(request, "sign-in", actor=Actor(member.id, member.login))
    session.advance(request.session, session.IN)
    log.info("panel: %s signed in from %s", member.login, client_address(request))
    return RedirectResponse(HOME, status_code=303)


# -- login and password ------------------------------------------------------------------------
def _login_page(
    request: Request, *, error: str | None = None, login: str = "", status_code: int = 200
) -> Response:
    notice = None
    if request.query_params.get("expired"):
        notice = MSG_EXPIRED
    elif request.query_params.get("logged_out"):
        notice = MSG_LOGGED_OUT
    context = {"error": error, "notice": notice, "login": login}
    return render(request, "panel/login.html", context, status_code=status_code)


async def login_page(request: Request) -> Response:
    if request.state.staff is not None:
        return RedirectResponse(HOME, status_code=303)
    return _login_page(request)


async def login_submit(request: Request) -> Response:
    staff: Staff = request.app.state.staff
    form = await request.form()
    login = str(form.get("login") or "").strip()[:200]
    password = str(form.get("password") or "")[: passwords.MAX_LENGTH * 4]
    member = staff.by_login(login) if login else None
    actor = Actor(member.id if member else None, login or "-")
    key = PASSWORD_KEY + login

    wait = _throttled(request, key)
    if wait > 0:
        audit(request, "sign-in-failed", actor=actor, details=THROTTLED)
        response = _login_page(request, error=_too_many(wait), login=login, status_code=429)
        response.headers["retry-after"] = str(wait)
        return response

    # Unknown logins verify a stand-in hash, so the answer takes as long as a wrong password.
    stored = member.password_hash if member else passwords.dummy_hash()
    ok = await run_in_threadpool(passwords.verify_password, stored, password)
    if not ok or member is None:
        request.app.state.panel_throttle.failed(key, client_address(request))
        reason = "nieznany login" if member is None else "błędne hasło"
        audit(request, "sign-in-failed", actor=actor, details=reason)
        log.warning("panel sign-in failed: login=%r client=%s", login, client_address(request))
        return _login_page(request, error=MSG_INVALID, login=login, status_code=400)
    if not member.active:
        audit(request, "sign-in-failed", actor=actor, details="konto zablokowane")
        return _login_page(request, error=MSG_DISABLED, login=login, status_code=403)

    request.app.state.panel_throttle.succeeded(key)
    if passwords.needs_rehash(member.password_hash):
        fresh = await run_in_threadpool(passwords.hash_password, password)
        staff.rehash_password(member.id, fresh)
    stage = session.first_stage(member)
    session.start(request.session, member, stage)
    return RedirectResponse(session.STAGE_PAGES[stage], status_code=303)


def _password_page(request: Request, errors: list[str] | None = None, status: int = 200):
    context = {"errors": errors or [], "min_length": passwords.MIN_LENGTH}
    return render(request, "panel/password.html", context, status_code=status)


async def password_page(request: Request) -> Response:
    if _pending(request, session.PASSWORD) is None:
        return _elsewhere(request)
    return _password_page(request)


async def password_submit(request: Request) -> Response:
    member = _pending(request, session.PASSWORD)
    if member is None:
        return _elsewhere(request)
    form = await request.form()
    new = str(form.get("new_password") or "")[: passwords.MAX_LENGTH * 4]
    repeat = str(form.get("new_password_repeat") or "")[: passwords.MAX_LENGTH * 4]
    errors = passwords.check_new_password(member.login, new)
    if new != repeat:
        errors.append(MSG_MISMATCH)
    if not errors and await run_in_threadpool(
        passwords.verify_password, member.password_hash, new
    ):
        errors.append(MSG_SAME)
    if errors:
        return _password_page(request, errors, status=400)
    new_hash = await run_in_threadpool(passwords.hash_password, new)
    staff: Staff = request.app.state.staff
    version = staff.set_password(member.id, new_hash)
    audit(request, "password-changed", target_kind="staff", target=member.login)
    stage = session.CODE if member.enrolled else session.ENROL
    session.advance(request.session, stage, version)
    return RedirectResponse(session.STAGE_PAGES[stage], status_code=303)


# -- the second factor --------------------------------------------------------------------------
def _enrol_page(
    request: Request, member: StaffMember, error: str | None = None, status: int = 200
) -> Response:
    secret = request.app.state.staff.pending_secret(member.id, totp.new_secret)
    context = {
        "secret": secret,
        "qr": totp.qr_svg(totp.provisioning_uri(secret, member.login)),
        "issuer": totp.ISSUER,
        "error": error,
    }
    return render(request, "panel/enrol.html", context, status_code=status)


async def enrol_page(request: Request) -> Response:
    member = _pending(request, session.ENROL)
    if member is None:
        return _elsewhere(request)
    return _enrol_page(request, member)


def _code_failure(request: Request, member: StaffMember, message: str) -> str:
    request.app.state.panel_throttle.failed(CODE_KEY + member.login, client_address(request))
    reason = "kod już użyty" if message == MSG_REPLAY else "błędny kod"
    audit(request, "sign-in-failed", details=reason)
    return message


async def enrol_submit(request: Request) -> Response:
    member = _pending(request, session.ENROL)
    if member is None:
        return _elsewhere(request)
    wait = _throttled(request, CODE_KEY + member.login)
    if wait > 0:
        response = _enrol_page(request, member, _too_many(wait), status=429)
        response.headers["retry-after"] = str(wait)
        return response
    form = await request.form()
    secret = request.app.state.staff.pending_secret(member.id, totp.new_secret)
    step = totp.matching_step(secret, str(form.get("code") or ""))
    staff: Staff = request.app.state.staff
    if step is None or not staff.complete_enrolment(member.id, secret, step):
        error = _code_failure(request, member, MSG_CODE)
        return _enrol_page(request, member, error, status=400)
    request.app.state.panel_throttle.succeeded(CODE_KEY + member.login)
    audit(request, "totp-enrolled", target_kind="staff", target=member.login)
    return _signed_in(request, member)


def _code_page(request: Request, error: str | None = None, status: int = 200) -> Response:
    return render(request, "panel/code.html", {"error": error}, status_code=status)


async def code_page(request: Request) -> Response:
    if _pending(request, session.CODE) is None:
        return _elsewhere(request)
    return _code_page(request)


async def code_submit(request: Request) -> Response:
    member = _pending(request, session.CODE)
    if member is None or member.totp_secret is None:
        return _elsewhere(request)
    wait = _throttled(request, CODE_KEY + member.login)
    if wait > 0:
        audit(request, "sign-in-failed", details=THROTTLED)
        response = _code_page(request, _too_many(wait), status=429)
        response.headers["retry-after"] = str(wait)
        return response
    form = await request.form()
    step = totp.matching_step(member.totp_secret, str(form.get("code") or ""))
    staff: Staff = request.app.state.staff
    if step is None:
        return _code_page(request, _code_failure(request, member, MSG_CODE), status=400)
    if not staff.use_step(member.id, step):
        return _code_page(request, _code_failure(request, member, MSG_REPLAY), status=400)
    request.app.state.panel_throttle.succeeded(CODE_KEY + member.login)
    return _signed_in(request, member)


async def logout(request: Request) -> Response:
    """Ends the member's sessions everywhere (a copied cookie too), or a pending sign-in."""
    member = request.state.staff or request.state.pending
    if member is not None:
        request.app.state.staff.end_sessions(member.id)
        if request.state.staff is not None:
            audit(request, "sign-out")
    session.end(request.session)
    return RedirectResponse(session.LOGIN_PAGE + "?logged_out=1", status_code=303)


routes = [
    Route("/panel/login", login_page, methods=["GET"]),
    Route("/panel/login", login_submit, methods=["POST"]),
    Route("/panel/login/password", password_page, methods=["GET"]),
    Route("/panel/login/password", password_submit, methods=["POST"]),
    Route("/panel/login/enrol", enrol_page, methods=["GET"]),
    Route("/panel/login/enrol", enrol_submit, methods=["POST"]),
    Route("/panel/login/code", code_page, methods=["GET"]),
    Route("/panel/login/code", code_submit, methods=["POST"]),
    Route("/panel/logout", logout, methods=["POST"]),
]
