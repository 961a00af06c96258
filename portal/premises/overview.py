"""The overview, GET /premises/<id>: the page residents open most, so the portal's hot path.
Its content and the whole page around it are rendered once per generation and premises (and
language) and cached with the document; per request only the account's header and the
optional "password changed" notice are joined in, and `Overview` sends the bytes as a plain
ASGI endpoint. portal.overview_lane serves the same bytes in front of the stack. In the
office's preview (`overview_preview`) the page is rendered per request, as its links lead
into the panel. The parts every premises page shares are in portal.premises.page.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from portal.i18n import current_locale
from portal.premises import chart, ledger
from portal.premises.documents import Loaded, load_in_scope
from portal.premises.page import Page, Preview, document_context, nav_renderer, verdict
from portal.web.csrf import csrf_token
from portal.web.templating import templates

if TYPE_CHECKING:
    from portal.accounts.service import Account


def _overview_body(document: dict[str, Any], preview: Preview | None = None) -> Markup:
    """The overview's main content, rendered once per generation and premises: nothing in it
    depends on who asks or when, and this page is the one residents open most."""
    points = chart.daily_balances(ledger.entries(document))
    balance = document["totals"]["balance"]
    context = {
        **document_context(document, preview),
        "balance": balance,
        "verdict": verdict(balance),
        "chart": {
            "svg": chart.render_svg(points),
            "text": chart.describe(points),
            "months": chart.month_end_balances(points),
        },
    }
    return Markup(templates.get_template("premises_overview_body.html").render(context))


# Placeholders for the per-request parts of a cached page; they cannot occur in rendered
# text (autoescaping turns any `<` from data into `&lt;`).
_SLOTS = {"account": Markup("<!--ebok:account-->"), "notice": Markup("<!--ebok:notice-->")}


def _overview_shell(document: dict[str, Any]) -> tuple[bytes, bytes, bytes]:
    """The whole overview page, rendered and encoded once per generation and premises, cut
    where the signed-in account's header and the "password changed" notice go. The page is
    the portal's hot path; per request only the account header is rendered (a macro)."""
    context = {
        **document_context(document),
        "tab": "overview",
        "nav": nav_renderer("overview")(document),
        "body": _overview_body(document),
        "request": None,
        "shell_slots": _SLOTS,
    }
    html = templates.get_template("premises_overview.html").render(context)
    head, rest = html.split(_SLOTS["account"])
    middle, tail = rest.split(_SLOTS["notice"])
    return head.encode(), middle.encode(), tail.encode()


@functools.cache
def _base_macros() -> Any:
    """base.html's macros (account header, notices), for pages served from a cached shell."""
    return templates.get_template("base.html").module


_HEADER_CACHE_SIZE = 4096
_headers: dict[tuple[str, Any, str, str], bytes] = {}


def _account_header(account: Account, token: str) -> bytes:
    """base.html's account header for `account` with the session's CSRF token, encoded. It
    shows only the login and the previous sign-in time, so it is remembered by those and the
    token and language (`_HEADER_CACHE_SIZE` at most, oldest out first): a resident's every page
    view asks for the same one."""
    key = (account.login, account.previous_login_at, token, current_locale())
    header = _headers.get(key)
    if header is None:
        header = str(_base_macros().account_nav(account, token)).encode()
        if len(_headers) >= _HEADER_CACHE_SIZE:
            del _headers[next(iter(_headers))]
        _headers[key] = header
    return header


@functools.cache
def _password_changed_notice(locale: str) -> bytes:
    return str(_base_macros().password_changed_notice()).encode()


# The cached shell's name per language (portal.i18n.LOCALES), made once.
_SHELL_KEYS = {"pl": "overview-shell", "en": "overview-shell:en"}


def overview_bytes(loaded: Loaded, account: Account | None, token: str, notice: bool) -> bytes:
    """The overview of the document `loaded` (after the access check) for `account`, whose
    session's CSRF token is `token`, with the "password changed" notice or not, in the
    current language (each language's shell is cached apart)."""
    locale = current_locale()
    head, middle, tail = loaded.memo(_SHELL_KEYS[locale], _overview_shell)
    header = _account_header(account, token) if account is not None else b""
    notice_bytes = _password_changed_notice(locale) if notice else b""
    return b"".join((head, header, middle, notice_bytes, tail))


_HTML = b"text/html; charset=utf-8"


def overview_headers(body: bytes) -> list[tuple[bytes, bytes]]:
    """The headers HTMLResponse(body) would have."""
    return [(b"content-length", str(len(body)).encode()), (b"content-type", _HTML)]


class Overview:
    """GET /premises/<id>, the page residents open most, as a plain ASGI endpoint: the cached
    shell (`_overview_shell`) with this account's header and the optional notice joined in,
    sent with the headers HTMLResponse would send. No Request or Response object, no query
    string parsing when there is none; the access check is the same `get_premises` one
    (`load_in_scope`), and its HTTPException becomes the Polish 404 page outside, as for any
    view. Reading the CSRF token marks the session read, so `Vary: Cookie` is sent as before."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        _, loaded = load_in_scope(scope, scope["path_params"]["premises_id"])
        account = scope["state"].get("account")
        token = csrf_token(Request(scope)) if account is not None else ""
        query = scope["query_string"]
        notice = bool(query) and bool(QueryParams(query).get("password_changed"))
        body = overview_bytes(loaded, account, token, notice)
        start = {"type": "http.response.start", "status": 200, "headers": overview_headers(body)}
        await send(start)
        await send({"type": "http.response.body", "body": body})


overview = Overview()


def overview_preview(page: Page) -> Response:
    """The overview in a preview: rendered per request (its links lead into the panel)."""
    body = _overview_body(page.document, page.preview)
    context = page.context("overview", body=body)
    return templates.TemplateResponse(page.request, "premises_overview.html", context)
