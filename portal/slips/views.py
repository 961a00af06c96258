"""The payment slip pages: a form to choose the amount and title, the slip as a PDF, and the
same slip as a page to print from the browser.

Everything is GET: the slip changes nothing, so it needs no CSRF token, and its URL
(`slip.pdf?amount=123,45&title=…`) can be bookmarked. Anything typed into that URL is checked
again, and a bad value brings back the form with the reason, never a 500.
"""

from __future__ import annotations

import re
import threading
from datetime import date
from typing import Any
from urllib.parse import urlencode

from cachetools import LRUCache
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portal.i18n import N_, use_locale
from portal.pdf import render_pdf
from portal.premises.documents import get_premises
from portal.premises.page import document_context, premises_url
from portal.slips.form import (
    TITLE_MAX,
    AmountError,
    Slip,
    SlipError,
    TitleError,
    amount_plain,
    arrears,
    build_slip,
    clean_title,
    default_amount,
    default_title,
    parse_amount,
)
from portal.slips.qr import qr_svg
from portal.slips.sheet import pdf_context
from portal.web import format as fmt
from portal.web.downloads import file_response
from portal.web.templating import templates

PDF_CACHE_SIZE = 64


class PdfCache:
    """Rendered slips, keyed by (generation, premises, grosze, title): a published generation
    never changes, so an entry cannot go stale. A resident printing the same slip twice, or a
    browser asking for the PDF again, costs nothing the second time. One per app
    (`app.state.slip_pdfs`, made by `create_app`)."""

    def __init__(self, size: int = PDF_CACHE_SIZE) -> None:
        self.size = size
        self._items: LRUCache[tuple[str, str, int, str], bytes] = LRUCache(maxsize=size)
        self._lock = threading.Lock()  # cachetools caches are not thread-safe

    def get(self, key: tuple[str, str, int, str]) -> bytes | None:
        with self._lock:
            return self._items.get(key)

    def put(self, key: tuple[str, str, int, str], pdf: bytes) -> None:
        with self._lock:
            self._items[key] = pdf

    def __len__(self) -> int:
        return len(self._items)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def render_slip_pdf(slip: Slip, *, as_of: str) -> bytes:
    """The slip as a PDF: a Polish bank form in Polish formats, whatever the page's language."""
    with use_locale("pl"):
        html = templates.env.get_template("slip_pdf.html").render(
            **pdf_context(slip, as_of=fmt.date_pl(as_of), amount_display=fmt.money(slip.grosze))
        )
    return render_pdf(html)


def _choices(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The amounts offered on the form: the monthly charge and, when there are any, arrears."""
    out = []
    monthly = default_amount(document)
    if monthly:
        out.append({"key": "monthly", "label": N_("Opłata miesięczna"), "grosze": monthly})
    owed = arrears(document)
    if owed:
        out.append({"key": "arrears", "label": N_("Bieżąca zaległość"), "grosze": owed})
    return out


def _base_context(request: Request, document: dict[str, Any]) -> dict[str, Any]:
    return {
        **document_context(document),
        "request": request,
        "tab": "slip",
        "title_max": TITLE_MAX,
    }


def _query(slip: Slip) -> str:
    return urlencode({"amount": amount_plain(slip.grosze), "title": slip.title})


def _form(
    request: Request,
    document: dict[str, Any],
    *,
    kind: str,
    other: str,
    title: str,
    errors: dict[str, str] | None = None,
    slip: Slip | None = None,
    status_code: int = 200,
) -> Response:
    choices = _choices(document)
    if kind not in {c["key"] for c in choices} | {"other"}:
        kind = choices[0]["key"] if choices else "other"
    context = _base_context(request, document)
    context.update(
        choices=choices,
        kind=kind,
        other=other,
        title=title,
        errors=errors or {},
        slip=slip,
    )
    if slip is not None:
        base = premises_url(document["premises_id"], "slip")
        context["pdf_url"] = f"{base}.pdf?{_query(slip)}"
        context["print_url"] = f"{base}/print?{_query(slip)}"
    return templates.TemplateResponse(request, "slip_form.html", context, status_code=status_code)


def _checked(
    amount_text: str, title_text: str, document: dict[str, Any]
) -> tuple[Slip | None, dict[str, str]]:
    errors: dict[str, str] = {}
    grosze = title = None
    try:
        grosze = parse_amount(amount_text)
    except AmountError as exc:
        errors["amount"] = str(exc)
    try:
        title = clean_title(title_text)
    except TitleError as exc:
        errors["title"] = str(exc)
    if errors or grosze is None or title is None:
        return None, errors
    try:
        return build_slip(document, grosze, title), {}
    except SlipError as exc:
        return None, {"slip": str(exc)}


async def slip_form(request: Request) -> Response:
    """The form; once submitted and valid, the same page offers the PDF and the print view."""
    _, document = get_premises(request, request.path_params["premises_id"])
    params = request.query_params
    choices = {c["key"]: c["grosze"] for c in _choices(document)}
    kind = params.get("kind", "")
    title = params.get("title")
    if title is None:  # first visit
        first = next(iter(choices), "other")
        return _form(request, document, kind=first, other="", title=default_title(document))
    other = params.get("other", "")
    if kind in choices:
        amount_text = amount_plain(choices[kind])
    else:
        kind, amount_text = "other", other
    slip, errors = _checked(amount_text, title, document)
    return _form(
        request,
        document,
        kind=kind,
        other=other,
        title=title,
        errors=errors,
        slip=slip,
        status_code=400 if errors else 200,
    )


def _slip_or_form(request: Request) -> tuple[Any, dict[str, Any], Slip | None, Response | None]:
    generation, document = get_premises(request, request.path_params["premises_id"])
    amount = request.query_params.get("amount", "")
    # A link without a title (typed by hand, or from an older bookmark) gets the title the form
    # suggests rather than a refusal: the resident asked for a slip, not for a form to fill.
    title = request.query_params.get("title", "").strip() or default_title(document)
    slip, errors = _checked(amount, title, document)
    if slip is None:
        form = _form(
            request,
            document,
            kind="other",
            other=amount,
            title=title,
            errors=errors,
            status_code=400,
        )
        return generation, document, None, form
    return generation, document, slip, None


def _filename(premises_id: str) -> str:
    return "blankiet-" + (re.sub(r"[^A-Za-z0-9]+", "-", premises_id).strip("-") or "lokal") + ".pdf"


async def slip_pdf(request: Request) -> Response:
    generation, document, slip, form = _slip_or_form(request)
    if slip is None:
        return form  # type: ignore[return-value]
    key = (str(generation.path), document["premises_id"], slip.grosze, slip.title)
    pdf_cache: PdfCache = request.app.state.slip_pdfs
    pdf = pdf_cache.get(key)
    if pdf is None:
        as_of = document["community"]["as_of"]
        pdf = await run_in_threadpool(render_slip_pdf, slip, as_of=as_of)
        pdf_cache.put(key, pdf)
    return file_response(pdf, "application/pdf", _filename(document["premises_id"]), inline=True)


async def slip_print(request: Request) -> Response:
    _, document, slip, form = _slip_or_form(request)
    if slip is None:
        return form  # type: ignore[return-value]
    context = _base_context(request, document)
    context.update(
        slip=slip,
        qr=qr_svg(slip.qr_payload),
        copies=[("1", "egz. dla banku"), ("2", "egz. dla zleceniodawcy")],
        # The form's stub is Polish in any language (the page around it is translated).
        amount_display=_polish_money(slip.grosze),
        as_of_display=fmt.date_pl(date.fromisoformat(document["community"]["as_of"])),
        form_url=premises_url(document["premises_id"], "slip"),
        pdf_url=premises_url(document["premises_id"], "slip.pdf") + "?" + _query(slip),
    )
    return templates.TemplateResponse(
        request, "slip_print.html", context, headers={"cache-control": "private, no-store"}
    )


def _polish_money(grosze: int) -> str:
    with use_locale("pl"):
        return fmt.money(grosze)


routes = [
    Route("/premises/{premises_id:premises_id}/slip.pdf", slip_pdf, name="slip_pdf"),
    Route("/premises/{premises_id:premises_id}/slip/print", slip_print, name="slip_print"),
    Route("/premises/{premises_id:premises_id}/slip", slip_form, name="slip"),
]
