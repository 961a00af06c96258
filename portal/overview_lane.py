"""The overview's lane: `GET /premises/<id>` of a settled session, answered in one step.

The overview is the page residents open most, and through the whole stack (security headers,
the panel split, Starlette's error and exception layers, session, CSRF, sign-in check, router,
endpoint, each wrapping `send`) most of its cost was plumbing, not the page. The lane sits in
front of that stack and answers the one common case itself, with the same checks and the same
bytes; everything else goes down the stack unchanged. It answers only when all of these hold:

* a GET with no query string, on the path of the overview route, which is still the router's
  first route (the route's own regex decides, so the path means what the router says);
* the first Cookie header is one the session middleware has already verified (HMAC) and holds
  only plain values (`SessionMiddleware.remembered`), with a CSRF token in it;
* `AuthMiddleware.settled_account` accepts that session: not idle, not too old, counted by the
  database right now (`Accounts.session_account`: the revocation check of every request), no
  refresh of `seen` due, no password change pending — so the stack would change nothing in the
  session and send no cookie;
* the account holds the premises and the current generation has it (`load_for`, the access
  check of every premises page).

Then it sends what the stack would: the overview's bytes (`overview.overview_bytes`) in the
language of the `ebok_lang` cookie (`LocaleMiddleware`'s rule, `locale_from_cookie_header`), its
Content-Length and Content-Type, `Vary: Cookie` (the page reads the session), Content-Language
and the security headers (`SecurityHeadersMiddleware.page_headers`). In any other case, and if
anything raises, the request goes down the stack, which redirects, refreshes, refuses or renders
the error page as ever. `tests/portal/test_overview_lane.py` holds the lane to the stack: the
same status, headers and body for each case, and a list of the residents' middleware, so that a
new one cannot be skipped by the lane unnoticed.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from portal.accounts.auth import AuthMiddleware
from portal.i18n import LOCALES, reset_locale, set_locale
from portal.premises.documents import load_for
from portal.premises.overview import overview_bytes, overview_headers
from portal.web.csrf import SESSION_KEY
from portal.web.locale import locale_from_cookie_header
from portal.web.security import SecurityHeadersMiddleware
from portal.web.session import SessionMiddleware


class OverviewLane:
    """In front of the portal's stack `app` (see the module docstring). `portal` is the
    Starlette app (its state and router), `route` the overview's route, `security`, `session`
    and `auth` the stack's own middleware instances, whose rules the lane applies."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        portal: Any,
        route: Route,
        security: SecurityHeadersMiddleware,
        session: SessionMiddleware,
        auth: AuthMiddleware,
    ) -> None:
        self.app = app
        self.portal = portal
        self.route = route
        self.regex = route.path_regex
        self.convertor = route.param_convertors["premises_id"]
        self.session = session
        self.auth = auth
        self.tails = {
            locale: [(b"vary", b"Cookie"), (b"content-language", locale.encode())]
            + list(security.page_headers)
            for locale in LOCALES
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            try:
                body, locale = self._page(scope)
            except Exception:  # the stack answers, and reports, whatever this was
                body = None
            if body is not None:
                headers = [*overview_headers(body), *self.tails[locale]]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _page(self, scope: Scope) -> tuple[bytes | None, str]:
        """The overview's bytes (None when the stack must answer) and their language."""
        if scope.get("root_path"):
            return None, ""
        match = self.regex.match(scope["path"])
        if match is None or self.portal.router.routes[0] is not self.route:
            return None, ""
        for name, value in scope["headers"]:
            if name == b"cookie":
                session = self.session.remembered(value)
                break
        else:
            return None, ""
        if session is None:
            return None, ""
        token = session.get(SESSION_KEY)
        if not isinstance(token, str) or not token:
            return None, ""
        account = self.auth.settled_account(session)
        if account is None:
            return None, ""
        premises_id = self.convertor.convert(match["premises_id"])
        _, loaded = load_for(self.portal.state, account, premises_id)
        locale = locale_from_cookie_header(value)
        language = set_locale(locale)
        try:
            return overview_bytes(loaded, account, token, False), locale
        finally:
            reset_locale(language)
