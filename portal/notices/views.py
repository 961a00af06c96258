"""/settings (the signed-in resident switches e-mail notices on or off) and
/notices/unsubscribe/<token> (switching them off from a message, without signing in).

The unsubscribe link is a capability: its signed token (portal.notices.tokens) is the proof,
so the path is public (portal.accounts.auth) and exempt from the CSRF check (portal.app): a
mail program's one-click POST (RFC 8058) comes from the mail provider's server, with no
session and no form token. A GET never changes anything: it shows one button, because link
scanners of mail providers open every link in a message, and must not unsubscribe anyone.
Any POST to a valid link unsubscribes, whatever its body (`List-Unsubscribe=One-Click` from a
mail program, the button's form from the page).
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from portal.i18n import current_locale
from portal.notices.store import NoticesStore
from portal.notices.tokens import UNSUBSCRIBE_PATH, UnsubscribeTokens
from portal.web.templating import templates

log = logging.getLogger("ebok.notices")

SETTINGS_PATH = "/settings"
# Paths the CSRF middleware leaves alone (the token in the path is the proof of intent).
CSRF_EXEMPT = (UNSUBSCRIBE_PATH,)


def _store(request: Request) -> NoticesStore:
    return NoticesStore(request.app.state.accounts.db)


def tokens(state: object) -> UnsubscribeTokens:
    """The app's signer (made by create_app from the app's secret key)."""
    return state.unsubscribe_tokens  # type: ignore[attr-defined]


# -- /settings ----------------------------------------------------------------------------------
async def settings_page(request: Request) -> Response:
    account = request.state.account
    subscription = _store(request).subscription(account.id)
    return templates.TemplateResponse(
        request,
        "settings.html",
        {
            "email": account.email,
            "enabled": bool(subscription and subscription.enabled),
            # Notices go in the language they were switched on in; offer this page's.
            "other_language": bool(
                subscription and subscription.enabled and subscription.language != current_locale()
            ),
            "saved": request.query_params.get("saved"),
        },
    )


async def settings_submit(request: Request) -> Response:
    account = request.state.account
    form = await request.form()
    wanted = form.get("notices")
    store = _store(request)
    if wanted == "on" and account.email:
        # The page's language is the messages' (saving again in another language changes it).
        store.subscribe(account.id, current_locale())
        log.info("account %s: e-mail notices on", account.login)
        return RedirectResponse(f"{SETTINGS_PATH}?saved=on", status_code=303)
    if wanted == "off":
        store.unsubscribe(account.id)
        log.info("account %s: e-mail notices off", account.login)
        return RedirectResponse(f"{SETTINGS_PATH}?saved=off", status_code=303)
    return RedirectResponse(SETTINGS_PATH, status_code=303)


# -- /notices/unsubscribe/<token> -----------------------------------------------------------------
def _unsubscribe_page(request: Request, state: str, status: int = 200) -> Response:
    response = templates.TemplateResponse(
        request,
        "notices_unsubscribe.html",
        {"state": state, "action": request.url.path, "settings_path": SETTINGS_PATH},
        status_code=status,
    )
    response.headers["referrer-policy"] = "no-referrer"
    response.headers["cache-control"] = "no-store"
    response.headers["x-robots-tag"] = "noindex"
    return response


def _check(request: Request) -> tuple[str, int, int]:
    """(state, account id, version): state "confirm" (on, the link may switch it off),
    "already" (off), "superseded" (switched on again after this link was sent), "expired",
    "invalid"."""
    checked = tokens(request.app.state).check(request.path_params["token"])
    if checked.problem is not None:
        return checked.problem, 0, 0
    subscription = _store(request).subscription(checked.account_id)
    if subscription is None:
        return "invalid", 0, 0
    if subscription.version != checked.version:
        return "superseded", 0, 0
    if not subscription.enabled:
        return "already", 0, 0
    return "confirm", checked.account_id, checked.version


_STATUS = {"confirm": 200, "already": 200, "superseded": 410, "expired": 410, "invalid": 400}


async def unsubscribe_page(request: Request) -> Response:
    state, _, _ = _check(request)
    return _unsubscribe_page(request, state, _STATUS[state])


async def unsubscribe_submit(request: Request) -> Response:
    state, account_id, version = _check(request)
    if state == "confirm":
        _store(request).unsubscribe(account_id, version)
        log.info("account id %s: e-mail notices off by the link in a notice", account_id)
        state = "done"
    return _unsubscribe_page(request, state, _STATUS.get(state, 200))


routes = [
    Route(SETTINGS_PATH, settings_page, methods=["GET"]),
    Route(SETTINGS_PATH, settings_submit, methods=["POST"]),
    Route(UNSUBSCRIBE_PATH + "{token}", unsubscribe_page, methods=["GET"]),
    Route(UNSUBSCRIBE_PATH + "{token}", unsubscribe_submit, methods=["POST"]),
]
