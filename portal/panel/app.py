"""The panel as an ASGI app of its own, and the split that sends /panel requests to it.

The residents' middleware never sees a /panel request (nor the panel's a resident's): the two
halves have their own session cookies, so one SessionMiddleware must not write the other's
session, and their own sign-in checks. `PanelSplit` sits in the portal's stack just inside the
security headers (portal.app.PortalApp); with `EBOK_PANEL=off` the panel half answers 404.

The panel app, outermost first:
    ServerErrorMiddleware, then
    SessionMiddleware    the `ebok_panel` cookie, path /panel, SameSite=Strict (portal.web.session)
    PanelAuthMiddleware  request.state.staff / .pending; strangers to /panel/login, residents 404
    CSRFMiddleware       the residents' check, on the panel's own session
    the routes of AREAS  each route checks its roles (portal.panel.roles.route)

It shares the portal's `app.state` (one State object for both halves), where it adds:
    staff            portal.panel.staff.Staff
    audit            portal.panel.audit.AuditLog
    panel_throttle   a portal.accounts.throttle.Throttle of its own
    panel_sections   the home page's sections, from every area's `sections`
"""

from __future__ import annotations

from types import ModuleType

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ebok.settings import Settings
from portal.accounts.throttle import Throttle
from portal.panel import (
    account_actions,
    accounts_views,
    audit_views,
    auth,
    generations_views,
    import_job_views,
    imports_views,
    preview_views,
    session,
    staff_views,
    views,
)
from portal.panel.audit import AuditLog
from portal.panel.pages import ErrorPage, error_handler
from portal.panel.staff import Staff
from portal.web.csrf import CSRFMiddleware, Refusal
from portal.web.session import SessionMiddleware

# Each area: a module with `routes` (made with portal.panel.roles.route) and, optionally,
# `sections` (links on the home page). Add new areas here.
AREAS: tuple[ModuleType, ...] = (
    views,
    auth,
    staff_views,
    audit_views,
    accounts_views,
    account_actions,
    preview_views,
    imports_views,
    import_job_views,
    generations_views,
)

PREFIX = "/panel"


def is_panel_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class PanelSplit:
    """/panel and /panel/… go to `panel`, everything else (and lifespan) to `residents`."""

    def __init__(self, panel: ASGIApp, residents: ASGIApp) -> None:
        self.panel = panel
        self.residents = residents

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and is_panel_path(scope["path"]):
            await self.panel(scope, receive, send)
        else:
            await self.residents(scope, receive, send)


class NotFound:
    """The panel when it is off: the residents' 404 page for every /panel path."""

    def __init__(self, error_page: ErrorPage) -> None:
        self.error_page = error_page

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.error_page(Request(scope, receive), HTTPException(404))
        await response(scope, receive, send)


def create_panel(
    state: State,
    settings: Settings,
    *,
    secret_key: str,
    resident_cookie: str,
    https: bool,
    error_page: ErrorPage,
    csrf_refusal: Refusal,
) -> ASGIApp:
    """The panel for the portal whose state is `state` (it needs `state.accounts`), or a 404
    for every panel path when `settings.panel` is off. `error_page(request, exc)` is the
    residents' error page; `csrf_refusal` their CSRF refusal page."""
    if not settings.panel:
        return NotFound(error_page)
    accounts = state.accounts
    staff = Staff(accounts.db)
    state.staff = staff
    state.audit = AuditLog(accounts.db)
    state.panel_throttle = Throttle(db=accounts.db, scope="panel")
    state.panel_sections = tuple(s for area in AREAS for s in getattr(area, "sections", ()))

    async def not_found(request: Request):
        return await error_page(request, HTTPException(404))

    handler = error_handler(error_page)
    panel = Starlette(
        routes=[r for area in AREAS for r in area.routes],
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=session.cookie_key(secret_key),
                session_cookie=session.COOKIE,  # a browser-session cookie; expiry: its times
                path=session.PATH,
                same_site="strict",
                https_only=https,
            ),
            Middleware(
                session.PanelAuthMiddleware,
                staff=staff,
                resident=session.ResidentSessions(secret_key, resident_cookie, accounts),
                not_found=not_found,
            ),
            Middleware(
                CSRFMiddleware, trusted_origins=(settings.base_url,), refusal=csrf_refusal
            ),
        ],
        exception_handlers={HTTPException: handler, 500: handler},
    )
    panel.state = state
    return panel
