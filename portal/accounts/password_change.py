"""/password/change: a signed-in resident sets a new password, forced after a one-time one.

The current password is asked for even right after sign-in, so that an unattended, signed-in
browser cannot be used to take the account over. The change bumps the auth version, which ends
every other session of the account; this one is carried over to the new version.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal.accounts import passwords
from portal.accounts.lifecycle import notify_password_changed
from portal.accounts.mail import mailer_for
from portal.accounts.service import Accounts
from portal.i18n import N_
from portal.i18n import gettext as _
from portal.web.templating import templates

MSG_WRONG_CURRENT = N_("Obecne hasło jest nieprawidłowe.")
MSG_MISMATCH = N_("Nowe hasło i jego powtórzenie różnią się.")
MSG_SAME = N_("Nowe hasło musi różnić się od obecnego.")


def _render(request: Request, errors: list[str] | None = None, status_code: int = 200) -> Response:
    account = request.state.account
    return templates.TemplateResponse(
        request,
        "password_change.html",
        {
            "errors": [_(e) for e in errors or []],
            "forced": bool(account and account.must_change_password),
            "min_length": passwords.MIN_LENGTH,
        },
        status_code=status_code,
    )


async def password_change_page(request: Request) -> Response:
    return _render(request)


async def password_change_submit(request: Request) -> Response:
    account = request.state.account
    accounts: Accounts = request.app.state.accounts
    form = await request.form()
    current = str(form.get("current_password") or "")[: passwords.MAX_LENGTH * 4]
    new = str(form.get("new_password") or "")[: passwords.MAX_LENGTH * 4]
    repeat = str(form.get("new_password_repeat") or "")[: passwords.MAX_LENGTH * 4]

    stored = accounts.password_hash(account.id) or passwords.dummy_hash()
    if not await run_in_threadpool(passwords.verify_password, stored, current):
        return _render(request, [MSG_WRONG_CURRENT], status_code=400)
    errors = passwords.check_new_password(account.login, new)
    if new != repeat:
        errors.append(MSG_MISMATCH)
    if not errors and new == current:
        errors.append(MSG_SAME)
    if errors:
        return _render(request, errors, status_code=400)

    new_hash = await run_in_threadpool(passwords.hash_password, new)
    version = accounts.set_password(account.id, new_hash, must_change=False)
    settings = request.app.state.settings
    notify_password_changed(mailer_for(request.app.state, settings), settings, account, "self")
    request.session["av"] = version  # keep this session; every other one is now refused
    return RedirectResponse("/?password_changed=1", status_code=303)


routes = [
    Route("/password/change", password_change_page, methods=["GET"]),
    Route("/password/change", password_change_submit, methods=["POST"]),
]
