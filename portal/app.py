"""The portal's ASGI application: middleware, routes of every portal area, static files.

Middleware, outermost first:
    RequestMetrics             counts and times every request by route; answers /metrics to
                               the addresses EBOK_METRICS_ALLOW names (portal.web.metrics)
    OverviewLane               a settled session's GET of a premises overview, answered with
                               the rules of the layers below (portal.overview_lane)
    SecurityHeadersMiddleware  headers on every response, even Starlette's own 500 page
    LocaleMiddleware           the browser's language (`?lang=en` sets the cookie): portal.i18n
    SessionMiddleware          the signed cookie (portal.web.session: verified once per value)
    CSRFMiddleware             origin check + token on every unsafe request
    AuthMiddleware             request.state.account; signed-out visitors go to /login
/panel and /panel/… skip all but the first three: they go to the manager's panel (portal.panel),
an app with its own cookie, sign-in and CSRF check.

Each area's routes live in its own module. The areas' routes come before sign-in's: Starlette
tries routes in order, and the resident's pages are what is asked for most (no two routes match
the same path, so the order changes nothing else).

The app owns its state: everything that lives longer than a request (the accounts database, the
snapshot store, caches, throttles, the reset-token signer, the mailer) is made here and kept on
`app.state`, so two apps in one process (tests, a second data dir) share nothing. What stays
module-level holds no per-app state: the Jinja2 environment, memoised formatting and QR codes,
the argon2 hasher.
"""

from __future__ import annotations

import atexit
import logging
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from ebok.database import DatabaseUnavailable
from ebok.settings import Settings
from etl.snapshot.store import SnapshotStore
from portal.accounts import auth, password_change, passwords, recovery
from portal.accounts.mail import Mailer
from portal.accounts.service import Accounts
from portal.accounts.throttle import Throttle
from portal.notices import views as notices_views
from portal.notices.tokens import UnsubscribeTokens
from portal.overview_lane import OverviewLane
from portal.panel.app import PanelSplit, create_panel
from portal.panel.importer import Importer
from portal.premises import community, readings, views
from portal.premises.documents import DocumentCache
from portal.secret_key import load_secret_key
from portal.slips import views as slip_views
from portal.slips.views import PdfCache
from portal.web.csrf import CSRFMiddleware
from portal.web.locale import LocaleMiddleware
from portal.web.metrics import RequestMetrics
from portal.web.security import SecurityHeadersMiddleware
from portal.web.session import SessionMiddleware
from portal.web.templating import templates
from portal.web.unavailable import DatabaseGuard

T = TypeVar("T")
STATIC_DIR = Path(__file__).resolve().parent / "static"
# A browser-session cookie (no Max-Age), so closing the browser on a shared computer ends it;
# idle and absolute expiry are checked by AuthMiddleware from timestamps inside the session.
SESSION_COOKIE = "ebok_session"


def csrf_refusal(request: Request, problem: str) -> Response:
    """The CSRF middleware's 403: a page that says what happened and what to do."""
    return templates.TemplateResponse(
        request, "csrf_failed.html", {"problem": problem}, status_code=403
    )


class PortalApp(Starlette):
    """Starlette with the security headers outside even its ServerErrorMiddleware, so that the
    500 page carries them too; inside them, /panel requests go to the manager's panel, which
    has its own session, sign-in and error pages (portal.panel.app), and never through the
    residents' middleware. In front of it all, the overview's lane (portal.overview_lane)
    answers a settled session's GET of a premises overview with the stack's own checks."""

    hsts = False
    panel: ASGIApp | None = None

    def build_middleware_stack(self) -> ASGIApp:
        residents = super().build_middleware_stack()
        stack = residents if self.panel is None else PanelSplit(self.panel, residents)
        stack = DatabaseGuard(stack)  # the database gone: 503s, logged in a line
        languages = LocaleMiddleware(stack, https=self.hsts)
        security = SecurityHeadersMiddleware(languages, hsts=self.hsts)
        session = _layer(residents, SessionMiddleware)
        auth_layer = _layer(residents, auth.AuthMiddleware)
        route = next((r for r in self.routes if getattr(r, "name", None) == "premises"), None)
        if session is None or auth_layer is None or not isinstance(route, Route):
            return RequestMetrics(security, state=self.state)
        lane = OverviewLane(
            security, portal=self, route=route, security=security, session=session, auth=auth_layer
        )
        return RequestMetrics(lane, state=self.state, overview=route)


def _layer(stack: ASGIApp, kind: type[T]) -> T | None:
    """The middleware of type `kind` in `stack` (each layer's inner app is its `.app`)."""
    while stack is not None:
        if isinstance(stack, kind):
            return stack
        stack = getattr(stack, "app", None)
    return None


def create_app(settings: Settings, *, importer: Importer | None = None) -> Starlette:
    """The portal for `settings`. `importer` is the import service for the panel's import
    pages (etl.import_service.ImportService; ebok.serve passes it, as the portal may not import
    it); without one those pages say imports are unavailable here."""
    https = urlsplit(settings.base_url).scheme == "https"
    secret_key = load_secret_key(settings)
    accounts = Accounts(settings.accounts_database)
    try:
        accounts.migrate()
        accounts.prune_sign_ins()
    except DatabaseUnavailable as exc:  # pages answer 503 and migrate on first use once it is up
        logging.getLogger("ebok.database").warning("database unavailable at start: %s", exc)
    passwords.dummy_hash()  # made now, so the first unknown login takes no longer than others

    # The premises areas come first: the overview is the hot path and the first route tried.
    routes: list[BaseRoute] = [
        *views.routes,
        *community.routes, *readings.routes,  # community documents; meter readings
        *slip_views.routes,
        *recovery.routes,
        *auth.routes,
        *password_change.routes,
        *notices_views.routes,  # /settings, the unsubscribe links of e-mail notices
    ]
    routes.append(Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"))

    middleware = [
        Middleware(
            SessionMiddleware,
            secret_key=secret_key,
            session_cookie=SESSION_COOKIE,
            same_site="lax",
            https_only=https,
        ),
        Middleware(
            CSRFMiddleware,
            trusted_origins=(settings.base_url,),
            refusal=csrf_refusal,
            exempt_prefixes=notices_views.CSRF_EXEMPT,
        ),
        Middleware(
            auth.AuthMiddleware, accounts=accounts, idle_minutes=settings.session_idle_minutes
        ),
    ]
    app = PortalApp(
        routes=routes, middleware=middleware, exception_handlers=views.exception_handlers
    )
    app.hsts = https
    state = app.state
    state.settings = settings
    state.store = SnapshotStore(settings.snapshots_dir)
    state.accounts = accounts
    state.documents = DocumentCache()
    state.slip_pdfs = PdfCache()
    # Counted in the accounts database, so every worker process sees the same counts.
    state.throttle = Throttle(db=accounts.db, scope="sign-in")
    state.recovery_throttle = recovery.new_throttle(accounts.db)
    state.reset_tokens = recovery.ResetTokens(secret_key)
    state.unsubscribe_tokens = UnsubscribeTokens(secret_key)
    # Delivers from a thread started on the first message; at exit, whatever is still queued
    # is kept in DATA/outbox/failed/ for `ebok accounts mail-retry`.
    state.mailer = Mailer(settings)
    atexit.register(state.mailer.spill)
    state.importer = importer
    # The manager's panel at /panel/ (or a 404 there with EBOK_PANEL=off); it adds its own
    # state (staff, audit, panel_throttle, panel_sections).
    app.panel = create_panel(
        state,
        settings,
        secret_key=secret_key,
        resident_cookie=SESSION_COOKIE,
        https=https,
        error_page=views.http_error,
        csrf_refusal=csrf_refusal,
    )
    return app
