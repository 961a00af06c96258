"""The resident's pages: the list of their premises, and for each premises its overview,
ledger (with CSV), fee components and housing allowances; plus /healthz.

Premises ids contain `/` and spaces (`KW5/12`, `G 3`). Links quote them as one path segment
(`etl.snapshot.ids`), but the server sees the decoded path, so routes take the rest of the
path with a convertor that stops before a known sub-page name.

The same pages, read-only, are the office's "view as the resident" (portal.panel): a `Preview`
says whose account is shown and where the links lead; `preview_page` and `preview_list` render
them with no account header, no slip and no download, and a banner (premises_base.html).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from markupsafe import Markup
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ebok.database import DatabaseUnavailable
from etl.snapshot.document import Document
from etl.snapshot.ids import quote_premises_id
from portal.i18n import current_locale
from portal.i18n import gettext as _
from portal.premises import chart, community, ledger
from portal.premises.documents import (
    Loaded,
    account_premises,
    current_generation,
    derived,
    get_premises,
    load_in_scope,
)
from portal.web.csrf import csrf_token
from portal.web.downloads import file_response
from portal.web.templating import templates
from portal.web.unavailable import unavailable

if TYPE_CHECKING:
    from etl.snapshot.store import Generation
    from portal.accounts.service import Account

# Sub-pages of a premises, including those other modules add (`slip`: the payment slip).
SUBPAGES = (
    "ledger", "ledger.csv", "fees", "allowances", "readings", "slip", "slip.pdf", "slip/print"
)  # fmt: skip


class PremisesIdConvertor(Convertor[str]):
    """Any non-empty path that does not end in `/<sub-page>`."""

    regex = r"(?:(?!/(?:" + "|".join(s.replace(".", r"\.") for s in SUBPAGES) + r")$).)+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return quote_premises_id(value)


register_url_convertor("premises_id", PremisesIdConvertor())


RESIDENT_BASE = "/premises"


def premises_url(premises_id: str, page: str = "", base: str = RESIDENT_BASE) -> str:
    url = f"{base}/{quote_premises_id(premises_id)}"
    return f"{url}/{page}" if page else url


@dataclass(frozen=True)
class Preview:
    """A premises page shown to the office as the resident `login` sees it: links lead under
    `base` (`<base>/<premises id>[/<page>]`), only `premises_ids` (the account's) can be
    shown, `back` is the way back to the panel. The slip and the CSV download are left out."""

    login: str
    base: str
    back: str
    premises_ids: Collection[str]

    @property
    def home(self) -> str:
        """The preview's list of the account's premises."""
        return self.base.rsplit("/", 1)[0]

    @property
    def documents(self) -> str:
        """The preview's page of the communities' documents."""
        return f"{self.home}/documents"


def _verdict(balance: int) -> tuple[str, str]:
    """(word, css class) a resident understands without knowing the sign convention."""
    if balance > 0:
        return _("nadpłata"), "credit"
    if balance < 0:
        return _("zaległość"), "arrears"
    return _("rozliczone"), "settled"


def _as_of_context(community: dict[str, Any]) -> dict[str, Any]:
    """as_of for every page; as_of_card when that date is the cards' end date (a legacy export
    without date files: not a "stan na" date, base.html words it apart); as_of_parts:
    the premises / ledger / fees dates of a legacy export, when they differ (each page shows
    its own part's date)."""
    as_of = community["as_of"]
    parts = community.get("as_of_parts")
    if parts == {}:
        return {"as_of": as_of, "as_of_card": as_of, "as_of_parts": {}}
    parts = parts or {}
    shown = parts if len(set(parts.values())) > 1 else {}
    return {"as_of": as_of, "as_of_card": None, "as_of_parts": shown}


def document_context(document: Document, preview: Preview | None = None) -> dict[str, Any]:
    """What every premises page shows from the document alone (no request in it), computed
    once per generation and premises (for a preview: per request)."""
    premises_id = document["premises_id"]
    base = preview.base if preview is not None else RESIDENT_BASE
    urls = {
        "overview": premises_url(premises_id, base=base),
        "ledger": premises_url(premises_id, "ledger", base),
        "ledger_csv": premises_url(premises_id, "ledger.csv", base),
        "fees": premises_url(premises_id, "fees", base),
        "allowances": premises_url(premises_id, "allowances", base),
        # Meter readings (portal.premises.readings): a tab only where there are any.
        "readings": (
            premises_url(premises_id, "readings", base) if document.get("readings") else None
        ),
        "documents": community.DOCUMENTS_URL,
        "slip": premises_url(premises_id, "slip", base),
    }
    if preview is not None:
        # The resident's own forms and downloads: not in a preview.
        urls["ledger_csv"] = urls["slip"] = None
        urls["documents"] = preview.documents
    return {
        "doc": document,
        "community": document["community"],
        "premises": document["premises"],
        "premises_id": premises_id,
        **_as_of_context(dict(document["community"])),
        "urls": urls,
        "preview": preview,
    }


def _nav(tab: str, preview: Preview | None = None) -> Callable[[dict[str, Any]], Markup]:
    def render(document: dict[str, Any]) -> Markup:
        context = {**document_context(document, preview), "tab": tab}
        return Markup(templates.get_template("premises_nav.html").render(context))

    return render


class _Page:
    """What a premises page is built from: the request and the document. For the resident,
    derived values are memoised with the cached document (after the access check: `resident`);
    for a preview, the links and the header with its tabs are built per request (they lead
    into the panel) and everything else is memoised with the cached document as well."""

    __slots__ = ("request", "premises_id", "document", "preview", "_memo")

    def __init__(
        self,
        request: Request,
        document: dict[str, Any],
        memo: Callable[[str, Callable[[dict], Any]], Any],
        preview: Preview | None = None,
    ) -> None:
        self.request = request
        self.premises_id: str = document["premises_id"]
        self.document = document
        self.preview = preview
        self._memo = memo

    @classmethod
    def resident(cls, request: Request) -> _Page:
        premises_id = request.path_params["premises_id"]
        _, document = get_premises(request, premises_id)
        return cls(request, document, functools.partial(derived, request, premises_id))

    def derived(self, name: str, compute: Callable[[dict], Any]) -> Any:
        return self._memo(name, compute)

    def context(self, tab: str, **extra: Any) -> dict:
        """The template context of a premises page. What depends only on the document (links,
        the address header with its tabs) is built once per generation (and language); per
        request there is only the account's header and the page's own content."""
        if self.preview is None:
            base = self.derived("context", document_context)
            nav = self.derived(f"nav:{tab}:{current_locale()}", _nav(tab))
        else:
            base = document_context(self.document, self.preview)
            nav = _nav(tab, self.preview)(self.document)
        return {**base, "request": self.request, "tab": tab, "nav": nav, **extra}

    def entries(self) -> list[ledger.Entry]:
        return self.derived("entries", ledger.entries)


async def home(request: Request) -> Response:
    generation, documents = account_premises(request)
    # The communities' announcements in force are shown here; with one premises and none to
    # show, the resident goes straight to its overview.
    notices = community.current_announcements(generation, documents)
    if len(documents) == 1 and not notices:
        url = premises_url(documents[0]["premises_id"])
        if request.query_params.get("password_changed"):
            url += "?password_changed=1"  # keep the confirmation across the redirect
        return RedirectResponse(url, status_code=303)
    return _premises_list(request, documents, notices=notices)


def _premises_list(
    request: Request,
    documents: list[dict[str, Any]],
    preview: Preview | None = None,
    notices: list[dict[str, Any]] | None = None,
) -> Response:
    base = preview.base if preview is not None else RESIDENT_BASE
    rows = [
        {
            "doc": d,
            "url": premises_url(d["premises_id"], base=base),
            "verdict": _verdict(d["totals"]["balance"]),
        }
        for d in documents
    ]
    as_of = max((d["community"]["as_of"] for d in documents), default=None)
    context: dict[str, Any] = {"rows": rows, "as_of": as_of, "announcements": notices or []}
    documents_url = community.DOCUMENTS_URL if preview is None else preview.documents
    context["documents_url"] = documents_url if rows else None
    if preview is not None:
        context["preview"] = preview
    return templates.TemplateResponse(request, "premises_list.html", context)


def _overview_body(document: dict[str, Any], preview: Preview | None = None) -> Markup:
    """The overview's main content, rendered once per generation and premises: nothing in it
    depends on who asks or when, and this page is the one residents open most."""
    points = chart.daily_balances(ledger.entries(document))
    balance = document["totals"]["balance"]
    context = {
        **document_context(document, preview),
        "balance": balance,
        "verdict": _verdict(balance),
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
        "nav": _nav("overview")(document),
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


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) <= 6 else None


def _overview_preview(page: _Page) -> Response:
    """The overview in a preview: rendered per request (its links lead into the panel)."""
    body = _overview_body(page.document, page.preview)
    context = page.context("overview", body=body)
    return templates.TemplateResponse(page.request, "premises_overview.html", context)


async def ledger_page(request: Request) -> Response:
    return _ledger(_Page.resident(request))


def _ledger(page: _Page) -> Response:
    request = page.request
    rows = page.entries()
    available = ledger.years(rows)
    # Without a choice, the newest year: what a resident checks is the latest bookings, and
    # the rows stay in date order so the running balance reads top to bottom. `year=all`
    # shows the whole history.
    year = _int_param(request, "year")
    if year not in available:
        all_years = request.query_params.get("year") == "all"
        year = None if all_years or not available else available[0]
    shown = ledger.filter_year(rows, year)
    context = page.context(
        "ledger",
        years=available,
        year=year,
        page=ledger.paginate(shown, _int_param(request, "page") or 1),
        opening=ledger.opening_balance(rows, year),
        summaries=page.derived("years", lambda _: ledger.year_summaries(rows)),
        shown_charges=sum(e.charge for e in shown),
        shown_payments=sum(e.payment for e in shown),
    )
    return templates.TemplateResponse(request, "premises_ledger.html", context)


async def ledger_csv(request: Request) -> Response:
    page = _Page.resident(request)
    premises_id = page.premises_id
    rows = page.entries()
    year = _int_param(request, "year")
    if year not in ledger.years(rows):
        year = None
    opening = ledger.opening_balance(rows, year)
    body = ledger.to_csv(ledger.filter_year(rows, year), year, opening)
    filename = ledger.csv_filename(premises_id, year)
    return file_response(body, "text/csv; charset=utf-8", filename)


async def fees_page(request: Request) -> Response:
    return _fees(_Page.resident(request))


def _fees(page: _Page) -> Response:
    document = page.document
    notes = document["community"].get("fee_notes") or {}
    if not isinstance(notes, dict):
        notes = {"header": str(notes)}
    context = page.context("fees", fees=document["fees"], notes=notes)
    return templates.TemplateResponse(page.request, "premises_fees.html", context)


def _is_current(allowance: dict[str, Any], as_of: date) -> bool:
    start = date.fromisoformat(allowance["valid_from"]) if allowance.get("valid_from") else None
    end = date.fromisoformat(allowance["valid_to"]) if allowance.get("valid_to") else None
    return (start is None or start <= as_of) and (end is None or as_of <= end)


async def allowances_page(request: Request) -> Response:
    return _allowances(_Page.resident(request))


def _allowances(page: _Page) -> Response:
    document = page.document
    # "Current" is judged on the snapshot's as-of date, not on the wall clock: the page
    # describes the books as of that day, and an allowance that ended since then is still
    # the one those figures include.
    as_of = date.fromisoformat(document["community"]["as_of"])
    allowances = [
        {**a, "current": _is_current(a, as_of)}
        for a in sorted(document["allowances"], key=lambda a: a.get("valid_from") or "")
    ]
    context = page.context("allowances", allowances=allowances)
    return templates.TemplateResponse(page.request, "premises_allowances.html", context)


# -- the office's preview (portal.panel) -------------------------------------------------------
# The premises pages of this module a preview shows: sub-page -> how it is rendered. Other
# modules' pages (the readings) are rendered by their own function, which the panel passes.
PREVIEW_PAGES: dict[str, Callable[[_Page], Response]] = {
    "": _overview_preview,
    "ledger": _ledger,
    "fees": _fees,
    "allowances": _allowances,
}


def preview_page(
    request: Request, preview: Preview, premises_id: str, render: Callable[[_Page], Response]
) -> Response:
    """One premises page (`render`: one of PREVIEW_PAGES, or another module's page function
    taking a `_Page`) as the resident of `preview` sees it; 404 for a premises the account
    does not hold or the current generation lacks, as for the resident."""
    if premises_id not in preview.premises_ids:
        raise HTTPException(404)
    loaded = request.app.state.documents.load(current_generation(request), premises_id)
    if loaded is None:
        raise HTTPException(404)
    return render(_Page(request, loaded.document, loaded.memo, preview))


def preview_premises(request: Request, preview: Preview) -> tuple[Generation, list[dict]]:
    """The current generation and the published premises documents of the preview's account
    (what `account_premises` is for the signed-in resident)."""
    generation = current_generation(request)
    cache = request.app.state.documents
    loaded = (cache.load(generation, pid) for pid in preview.premises_ids)
    return generation, [item.document for item in loaded if item is not None]


def preview_list(request: Request, preview: Preview) -> Response:
    """The resident's start page in a preview: the account's published premises and the
    announcements in force (with one premises and none, straight to its overview, as the
    resident goes)."""
    generation, documents = preview_premises(request, preview)
    notices = community.current_announcements(generation, documents)
    if len(documents) == 1 and not notices:
        url = premises_url(documents[0]["premises_id"], base=preview.base)
        return RedirectResponse(url, status_code=303)
    return _premises_list(request, documents, preview, notices)


async def healthz(request: Request) -> Response:
    """Healthy = able to serve residents: a published generation, and the accounts database
    answering (with PostgreSQL it may be down while this process runs on)."""
    generation = request.app.state.store.current()
    if generation is None:
        return JSONResponse({"status": "unavailable", "generation": None}, status_code=503)
    try:
        request.app.state.accounts.db().execute("SELECT 1").fetchone()
    except DatabaseUnavailable:
        body = {"status": "database unavailable", "generation": generation.id}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ok", "generation": generation.id})


async def http_error(request: Request, exc: Exception) -> Response:
    """Error pages in the portal's words (and the visitor's language) instead of Starlette's
    plain text."""
    if isinstance(exc, DatabaseUnavailable):  # portal.web.unavailable
        exc = unavailable(_("Baza danych portalu jest chwilowo niedostępna."))
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    titles = {
        404: _("Nie znaleziono strony"),
        503: _("Serwis chwilowo niedostępny"),
    }
    title = titles.get(status, _("Błąd") if status < 500 else _("Błąd serwera"))
    detail = None
    if isinstance(exc, HTTPException) and status == 503:
        detail = exc.detail
    return templates.TemplateResponse(
        request,
        "error.html",
        {"status": status, "title": title, "detail": detail},
        status_code=status,
        headers=getattr(exc, "headers", None),
    )


# The overview first: the page most asked for (premises_id never matches a sub-page path, so
# the order decides nothing else).
routes = [
    Route("/premises/{premises_id:premises_id}", overview, name="premises", methods=["GET"]),
    Route("/", home, name="home"),
    Route("/healthz", healthz, name="healthz"),
    Route("/premises/{premises_id:premises_id}/ledger.csv", ledger_csv, name="ledger_csv"),
    Route("/premises/{premises_id:premises_id}/ledger", ledger_page, name="ledger"),
    Route("/premises/{premises_id:premises_id}/fees", fees_page, name="fees"),
    Route("/premises/{premises_id:premises_id}/allowances", allowances_page, name="allowances"),
]

# For create_app: Polish pages for 404 and 500 (and any other HTTP error a view raises).
exception_handlers = {HTTPException: http_error, 500: http_error}
