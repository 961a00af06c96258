"""Rendering a panel page: `render(request, "panel/x.html", {...})` gives every template the
signed-in member (`staff`), the menu of sections the member's role may use (`menu`) and the
role names, so that each view passes only its own data. Panel templates extend
`panel/base.html`.

Messages: views pass Polish message ids (constants marked with `N_`, or already translated
with `_`); `render` gives `error`, `notice`, `state`, `question`, `button`, `explanation` and
each of `errors` in the request's language (portal.i18n), and the menu and role names too.

Errors: with a member signed in, a panel 404 or 500 is a panel page; without one it is the
residents' own error page (the panel shows strangers nothing of itself).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from ebok.database import DatabaseUnavailable
from portal.i18n import Labels
from portal.i18n import gettext as _
from portal.panel.roles import ROLE_NAMES, Section
from portal.web.templating import templates

ErrorPage = Callable[[Request, Exception], Awaitable[Response]]


def menu(request: Request) -> list[Section]:
    staff = getattr(request.state, "staff", None)
    if staff is None:
        return []
    sections: tuple[Section, ...] = request.app.state.panel_sections
    return [
        replace(s, title=_(s.title), description=_(s.description))
        for s in sections
        if staff.role in s.roles
    ]


# Context keys whose text a view passes as a message id; `render` translates them.
MESSAGE_KEYS = ("error", "notice", "state", "question", "button", "explanation")


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    base = {
        "staff": getattr(request.state, "staff", None),
        "menu": menu(request),
        "role_names": Labels(ROLE_NAMES),  # answers in the request's language
    }
    values = {**base, **(context or {})}
    for key in MESSAGE_KEYS:
        if isinstance(values.get(key), str) and values[key]:
            values[key] = _(values[key])
    if isinstance(values.get("errors"), list):
        values["errors"] = [_(e) if isinstance(e, str) else e for e in values["errors"]]
    return templates.TemplateResponse(
        request, template, values, status_code=status_code, headers=headers
    )


def error_handler(residents_error_page: ErrorPage) -> ErrorPage:
    """The panel's handler for HTTP errors and 500s."""

    async def handle(request: Request, exc: Exception) -> Response:
        if getattr(request.state, "staff", None) is None or isinstance(exc, DatabaseUnavailable):
            return await residents_error_page(request, exc)
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        return render(
            request,
            "panel/error.html",
            {"status": status},
            status_code=status,
            headers=getattr(exc, "headers", None),
        )

    return handle
