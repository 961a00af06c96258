"""/panel/accounts/{id}/preview: the office sees a resident's pages as the resident does.

    /panel/accounts/{id}/preview                                 the account's premises
    /panel/accounts/{id}/preview/premises/{premises id}          overview
    /panel/accounts/{id}/preview/premises/{premises id}/ledger   ledger (also fees, allowances,
                                                                 readings)
    /panel/accounts/{id}/preview/documents                       the communities' documents
    /panel/accounts/{id}/preview/documents/{document id}         one of them (the PDF)

The pages are the residents' own (portal.premises.views.preview_page and preview_list, the same
templates and context), read-only: a banner says whose preview it is, links stay inside the
preview, and there is no account header (logout, password), no slip and no CSV download. Only
the account's own premises, and its communities' documents, can be shown (404 for any other,
as for the resident). Every page and document shown is in the audit log (`preview`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from portal.accounts.service import AccountRecord
from portal.panel import office
from portal.panel.audit import audit
from portal.panel.pages import render
from portal.panel.roles import OFFICE_WORK, route
from portal.premises import community, readings, views
from portal.premises.page import Preview

# premises sub-page -> how it is rendered (a function of portal.premises' page)
PAGES = {**views.PREVIEW_PAGES, "readings": readings.readings_view}
# premises sub-page -> how the audit entry names it
PAGE_NAMES = {
    "": "przegląd",
    "ledger": "obroty",
    "fees": "opłaty",
    "allowances": "dodatki",
    "readings": "odczyty liczników",
}


def preview_for(record: AccountRecord) -> Preview:
    home = f"{office.account_url(record)}/preview"
    return Preview(
        login=record.login,
        base=f"{home}/premises",
        back=office.account_url(record),
        premises_ids=record.premises_ids,
    )


def _no_data(request: Request, record: AccountRecord) -> Response | None:
    if office.generation(request) is None:
        context = {"record": record}
        return render(request, "panel/accounts_no_data.html", context, status_code=503)
    return None


def _audit(request: Request, record: AccountRecord, details: str) -> None:
    audit(
        request,
        "preview",
        target_kind="account",
        target=record.login,
        account_id=record.id,
        details=details,
    )


async def preview_home(request: Request) -> Response:
    record = office.account(request)
    if missing := _no_data(request, record):
        return missing
    response = views.preview_list(request, preview_for(record))
    _audit(request, record, "lista lokali")
    return response


def _page(page: str):
    async def preview_page(request: Request) -> Response:
        record = office.account(request)
        if missing := _no_data(request, record):
            return missing
        premises_id = request.path_params["premises_id"]
        response = views.preview_page(request, preview_for(record), premises_id, PAGES[page])
        _audit(request, record, f"lokal {premises_id}, {PAGE_NAMES[page]}")
        return response

    preview_page.__name__ = f"preview_{page or 'overview'}"
    return preview_page


async def preview_documents(request: Request) -> Response:
    record = office.account(request)
    if missing := _no_data(request, record):
        return missing
    preview = preview_for(record)
    generation, documents = views.preview_premises(request, preview)
    response = community.preview_documents_page(request, generation, documents, preview)
    _audit(request, record, "dokumenty")
    return response


async def preview_document(request: Request) -> Response:
    """One of the account's communities' PDFs, served as to the resident (404 for any other)."""
    record = office.account(request)
    if missing := _no_data(request, record):
        return missing
    generation, documents = views.preview_premises(request, preview_for(record))
    document_id = request.path_params["document_id"]
    response = community.document_response(generation, documents, document_id)
    _audit(request, record, f"dokument {document_id}")
    return response


HOME = "/panel/accounts/{account_id:int}/preview"
PREMISES = HOME + "/premises/{premises_id:premises_id}"
routes = [route(HOME, preview_home, OFFICE_WORK)]
routes += [
    route(f"{PREMISES}/{page}" if page else PREMISES, _page(page), OFFICE_WORK) for page in PAGES
]
routes += [
    route(HOME + "/documents", preview_documents, OFFICE_WORK),
    route(HOME + "/documents/{document_id}", preview_document, OFFICE_WORK),
]
