"""The resident's pages besides the overview (portal.premises.overview): the list of their
premises, and for each premises its ledger (with CSV), fee components and housing allowances;
plus /healthz and the portal's error pages, and the route table of them all.

The same pages, read-only, are the office's "view as the resident" (portal.panel):
`preview_page` and `preview_list` render them for a `Preview` (portal.premises.page) with no
account header, no slip and no download, and a banner (premises_base.html).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ebok.database import DatabaseUnavailable
from portal.i18n import gettext as _
from portal.premises import community, ledger
from portal.premises.documents import account_premises, current_generation
from portal.premises.overview import overview, overview_preview
from portal.premises.page import RESIDENT_BASE, Page, Preview, premises_url, verdict
from portal.web.downloads import file_response
from portal.web.templating import templates
from portal.web.unavailable import unavailable

if TYPE_CHECKING:
    from etl.snapshot.store import Generation


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
            "verdict": verdict(d["totals"]["balance"]),
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


def _int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name, "")
    return int(raw) if raw.isdigit() and len(raw) <= 6 else None


async def ledger_page(request: Request) -> Response:
    return _ledger(Page.resident(request))


def _ledger(page: Page) -> Response:
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
    page = Page.resident(request)
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
    return _fees(Page.resident(request))


def _fees(page: Page) -> Response:
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
    return _allowances(Page.resident(request))


def _allowances(page: Page) -> Response:
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
PREVIEW_PAGES: dict[str, Callable[[Page], Response]] = {
    "": overview_preview,
    "ledger": _ledger,
    "fees": _fees,
    "allowances": _allowances,
}


def preview_page(
    request: Request, preview: Preview, premises_id: str, render: Callable[[Page], Response]
) -> Response:
    """One premises page (`render`: one of PREVIEW_PAGES, or another module's page function
    taking a `Page`) as the resident of `preview` sees it; 404 for a premises the account
    does not hold or the current generation lacks, as for the resident."""
    if premises_id not in preview.premises_ids:
        raise HTTPException(404)
    loaded = request.app.state.documents.load(current_generation(request), premises_id)
    if loaded is None:
        raise HTTPException(404)
    return render(Page(request, loaded.document, loaded.memo, preview))


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
