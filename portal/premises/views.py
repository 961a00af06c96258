"""The resident's pages: the list of their premises, and for each premises its overview,
ledger (with CSV), fee components and housing allowances; plus /healthz.

Premises ids contain `/` and spaces (`KW5/12`, `G 3`). Links quote them as one path segment
(`etl.snapshot.ids`), but the server sees the decoded path, so routes take the rest of the
path with a convertor that stops before a known sub-page name.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date
from typing import Any

from markupsafe import Markup
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from etl.snapshot.document import Document
from etl.snapshot.ids import quote_premises_id
from portal.premises import chart, ledger
from portal.premises.documents import account_premises, derived, get_premises
from portal.web.csrf import csrf_token
from portal.web.downloads import file_response
from portal.web.templating import templates

# Sub-pages of a premises, including those other modules add (`slip`: the payment slip).
SUBPAGES = ("ledger", "ledger.csv", "fees", "allowances", "slip", "slip.pdf", "slip/print")


class PremisesIdConvertor(Convertor[str]):
    """Any non-empty path that does not end in `/<sub-page>`."""

    regex = r"(?:(?!/(?:" + "|".join(s.replace(".", r"\.") for s in SUBPAGES) + r")$).)+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return quote_premises_id(value)


register_url_convertor("premises_id", PremisesIdConvertor())


def premises_url(premises_id: str, page: str = "") -> str:
    url = "/premises/" + quote_premises_id(premises_id)
    return f"{url}/{page}" if page else url


def _verdict(balance: int) -> tuple[str, str]:
    """(word, css class) a resident understands without knowing the sign convention."""
    if balance > 0:
        return "nadpłata", "credit"
    if balance < 0:
        return "zaległość", "arrears"
    return "rozliczone", "settled"


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


def document_context(document: Document) -> dict[str, Any]:
    """What every premises page shows from the document alone (no request in it), computed
    once per generation and premises."""
    premises_id = document["premises_id"]
    return {
        "doc": document,
        "community": document["community"],
        "premises": document["premises"],
        "premises_id": premises_id,
        **_as_of_context(dict(document["community"])),
        "urls": {
            "overview": premises_url(premises_id),
            "ledger": premises_url(premises_id, "ledger"),
            "ledger_csv": premises_url(premises_id, "ledger.csv"),
            "fees": premises_url(premises_id, "fees"),
            "allowances": premises_url(premises_id, "allowances"),
            "slip": premises_url(premises_id, "slip"),
        },
    }


def _nav(tab: str) -> Callable[[dict[str, Any]], Markup]:
    def render(document: dict[str, Any]) -> Markup:
        context = {**document_context(document), "tab": tab}
        return Markup(templates.get_template("premises_nav.html").render(context))

    return render


def _context(request: Request, premises_id: str, tab: str, **extra: Any) -> dict:
    """The template context of a premises page. What depends only on the document (links,
    the address header with its tabs) is built once per generation; per request there is
    only the account's header and the page's own content."""
    base = derived(request, premises_id, "context", document_context)
    nav = derived(request, premises_id, f"nav:{tab}", _nav(tab))
    return {**base, "request": request, "tab": tab, "nav": nav, **extra}


def _entries(request: Request, premises_id: str) -> list[ledger.Entry]:
    return derived(request, premises_id, "entries", ledger.entries)


async def home(request: Request) -> Response:
    generation, documents = account_premises(request)
    if len(documents) == 1:
        url = premises_url(documents[0]["premises_id"])
        if request.query_params.get("password_changed"):
            url += "?password_changed=1"  # keep the confirmation across the redirect
        return RedirectResponse(url, status_code=303)
    rows = [
        {
            "doc": d,
            "url": premises_url(d["premises_id"]),
            "verdict": _verdict(d["totals"]["balance"]),
        }
        for d in documents
    ]
    as_of = max((d["community"]["as_of"] for d in documents), default=None)
    return templates.TemplateResponse(request, "premises_list.html", {"rows": rows, "as_of": as_of})


def _overview_body(document: dict[str, Any]) -> Markup:
    """The overview's main content, rendered once per generation and premises: nothing in it
    depends on who asks or when, and this page is the one residents open most."""
    points = chart.daily_balances(ledger.entries(document))
    balance = document["totals"]["balance"]
    context = {
        **document_context(document),
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


async def overview(request: Request) -> Response:
    premises_id = request.path_params["premises_id"]
    get_premises(request, premises_id)
    head, middle, tail = derived(request, premises_id, "overview-shell", _overview_shell)
    macros = _base_macros()
    account = request.state.account
    header = macros.account_nav(account, csrf_token(request)) if account is not None else ""
    notice = (
        macros.password_changed_notice() if request.query_params.get("password_changed") else ""
    )
    return HTMLResponse(b"".join((head, str(header).encode(), middle, str(notice).encode(), tail)))


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) <= 6 else None


async def ledger_page(request: Request) -> Response:
    premises_id = request.path_params["premises_id"]
    _, document = get_premises(request, premises_id)
    rows = _entries(request, premises_id)
    available = ledger.years(rows)
    # Without a choice, the newest year: what a resident checks is the latest bookings, and
    # the rows stay in date order so the running balance reads top to bottom. `year=all`
    # shows the whole history.
    year = _int_param(request, "year")
    if year not in available:
        all_years = request.query_params.get("year") == "all"
        year = None if all_years or not available else available[0]
    shown = ledger.filter_year(rows, year)
    page = ledger.paginate(shown, _int_param(request, "page") or 1)
    context = _context(
        request,
        premises_id,
        "ledger",
        years=available,
        year=year,
        page=page,
        opening=ledger.opening_balance(rows, year),
        summaries=derived(request, premises_id, "years", lambda _: ledger.year_summaries(rows)),
        shown_charges=sum(e.charge for e in shown),
        shown_payments=sum(e.payment for e in shown),
    )
    return templates.TemplateResponse(request, "premises_ledger.html", context)


async def ledger_csv(request: Request) -> Response:
    premises_id = request.path_params["premises_id"]
    get_premises(request, premises_id)
    rows = _entries(request, premises_id)
    year = _int_param(request, "year")
    if year not in ledger.years(rows):
        year = None
    opening = ledger.opening_balance(rows, year)
    body = ledger.to_csv(ledger.filter_year(rows, year), year, opening)
    filename = ledger.csv_filename(premises_id, year)
    return file_response(body, "text/csv; charset=utf-8", filename)


async def fees_page(request: Request) -> Response:
    premises_id = request.path_params["premises_id"]
    _, document = get_premises(request, premises_id)
    notes = document["community"].get("fee_notes") or {}
    if not isinstance(notes, dict):
        notes = {"header": str(notes)}
    context = _context(request, premises_id, "fees", fees=document["fees"], notes=notes)
    return templates.TemplateResponse(request, "premises_fees.html", context)


def _is_current(allowance: dict[str, Any], as_of: date) -> bool:
    start = date.fromisoformat(allowance["valid_from"]) if allowance.get("valid_from") else None
    end = date.fromisoformat(allowance["valid_to"]) if allowance.get("valid_to") else None
    return (start is None or start <= as_of) and (end is None or as_of <= end)


async def allowances_page(request: Request) -> Response:
    premises_id = request.path_params["premises_id"]
    _, document = get_premises(request, premises_id)
    # "Current" is judged on the snapshot's as-of date, not on the wall clock: the page
    # describes the books as of that day, and an allowance that ended since then is still
    # the one those figures include.
    as_of = date.fromisoformat(document["community"]["as_of"])
    allowances = [
        {**a, "current": _is_current(a, as_of)}
        for a in sorted(document["allowances"], key=lambda a: a.get("valid_from") or "")
    ]
    context = _context(request, premises_id, "allowances", allowances=allowances)
    return templates.TemplateResponse(request, "premises_allowances.html", context)


async def healthz(request: Request) -> Response:
    generation = request.app.state.store.current()
    if generation is None:
        return JSONResponse({"status": "unavailable", "generation": None}, status_code=503)
    return JSONResponse({"status": "ok", "generation": generation.id})


async def http_error(request: Request, exc: Exception) -> Response:
    """Polish error pages instead of Starlette's English plain text."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    titles = {
        404: "Nie znaleziono strony",
        503: "Serwis chwilowo niedostępny",
    }
    title = titles.get(status, "Błąd" if status < 500 else "Błąd serwera")
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
    Route("/premises/{premises_id:premises_id}", overview, name="premises"),
    Route("/", home, name="home"),
    Route("/healthz", healthz, name="healthz"),
    Route("/premises/{premises_id:premises_id}/ledger.csv", ledger_csv, name="ledger_csv"),
    Route("/premises/{premises_id:premises_id}/ledger", ledger_page, name="ledger"),
    Route("/premises/{premises_id:premises_id}/fees", fees_page, name="fees"),
    Route("/premises/{premises_id:premises_id}/allowances", allowances_page, name="allowances"),
]

# For create_app: Polish pages for 404 and 500 (and any other HTTP error a view raises).
exception_handlers = {HTTPException: http_error, 500: http_error}
