"""Roles, and the one way a panel route is declared: `route(path, endpoint, roles)`.

    office       the office: resident accounts
    accountant   the accountant: imports and generations
    admin        both of the above, staff management and the audit log

Every panel route names the roles that may use it, and the check runs on the server for every
request, before the endpoint: a member whose role is not named gets 404 (the same page as for a
path that does not exist, so the panel does not tell what it holds). The home page shows only
the `Section`s the member's role may use, but hiding a link is a convenience, never the check.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.i18n import N_

ADMIN, OFFICE, ACCOUNTANT = "admin", "office", "accountant"
ROLES = (ADMIN, OFFICE, ACCOUNTANT)

# Who may use what: name these in routes and sections rather than listing roles by hand.
EVERYONE = frozenset(ROLES)
OFFICE_WORK = frozenset({ADMIN, OFFICE})  # resident accounts
ACCOUNTING = frozenset({ADMIN, ACCOUNTANT})  # imports, generations
ADMIN_ONLY = frozenset({ADMIN})  # staff, audit log

# Message ids (portal.i18n); pages get them translated (portal.panel.pages.render).
ROLE_NAMES = {ADMIN: N_("administrator"), OFFICE: N_("biuro"), ACCOUNTANT: N_("księgowość")}

Endpoint = Callable[[Request], Awaitable[Response]]


def allowed(request: Request, roles: Collection[str]) -> bool:
    """Whether the signed-in member's role is one of `roles` (False when nobody is signed in)."""
    staff = getattr(request.state, "staff", None)
    return staff is not None and staff.role in roles


def require(roles: Collection[str]) -> Callable[[Endpoint], Endpoint]:
    """Decorate an endpoint: 404 unless a signed-in member's role is one of `roles`."""
    roles = frozenset(roles)
    unknown = roles - EVERYONE
    if unknown or not roles:
        raise ValueError(f"unknown roles: {sorted(unknown)}" if unknown else "no roles given")

    def decorate(endpoint: Endpoint) -> Endpoint:
        @functools.wraps(endpoint)
        async def checked(request: Request) -> Response:
            if not allowed(request, roles):
                raise HTTPException(404)
            return await endpoint(request)

        checked.roles = roles  # type: ignore[attr-defined]
        return checked

    return decorate


def route(
    path: str,
    endpoint: Endpoint,
    roles: Collection[str],
    *,
    methods: Collection[str] = ("GET",),
    name: str | None = None,
) -> Route:
    """A panel route that only `roles` may use. `path` starts with /panel/."""
    if not path.startswith("/panel/"):
        raise ValueError(f"panel routes live under /panel/: {path}")
    return Route(path, require(roles)(endpoint), methods=list(methods), name=name)


@dataclass(frozen=True)
class Section:
    """A link on the panel's home page (and in its menu), shown to `roles` only."""

    title: str
    href: str
    roles: frozenset[str]
    description: str = ""
