"""What a community publishes for all its residents: announcements (on the home page) and
documents (`/documents`, each PDF at `/documents/<id>`).

Both are per community: a resident sees those of the communities their account has premises
in (in the current generation), and nothing of any other community. A document is asked for
by its id, the SHA-256 of its content (`etl.snapshot.writer`), never by a name or path from the
export; an id that is not one of the resident's communities' documents gets the same 404 as
one that does not exist, so ids cannot be probed.

Announcements are plain text from the export: everything is escaped, a blank line starts a
new paragraph, a line break stays one, and bare http(s) addresses become links
(`rel="noopener nofollow"`). One is shown while it is valid *today* (the portal's local date,
Europe/Warsaw), not on the generation's as-of date: an announcement speaks of real days (a
water shut-off next Tuesday), while the as-of date is when the books were closed, often weeks
before the import, and would hide an announcement of days after it until the next export.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from markupsafe import Markup, escape
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from etl.snapshot.document import Announcement, CommunityDocument
from etl.snapshot.generation import Generation, is_document_id
from portal.i18n import N_
from portal.i18n import gettext as _
from portal.premises.documents import account_premises
from portal.web import format as fmt
from portal.web.format import LOCAL_ZONE
from portal.web.templating import templates

DOCUMENTS_URL = "/documents"
KIND_LABELS = {
    "resolution": N_("Uchwała"),
    "financial_statement": N_("Sprawozdanie finansowe"),
    "rules": N_("Regulamin"),
    "minutes": N_("Protokół"),
    "other": N_("Inny dokument"),
}
# A PDF is opened by the resident's own viewer, never as a page of this site: a sandboxed
# origin with nothing allowed, should a browser render it anyway.
DOCUMENT_CSP = "sandbox; default-src 'none'; frame-ancestors 'none'"

_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_TRAILING = ".,;:!?)\u201d\u2019"


def today() -> date:
    """The portal's local date (tests replace this)."""
    return datetime.now(LOCAL_ZONE).date()


# -- announcements ----------------------------------------------------------------------------
def _unbalanced(url: str) -> bool:
    return url.count(")") > url.count("(")


def _linked(line: str) -> Markup:
    """One line of text, escaped, its bare http(s) addresses made links."""
    parts: list[Markup] = []
    position = 0
    for found in _URL.finditer(line):
        url = found.group(0)
        # "(see https://x.pl/a_(b))." ends the sentence, not the address; a ")" is the
        # address's own only while it closes a "(" of it.
        while url and url[-1] in _TRAILING and (url[-1] != ")" or _unbalanced(url)):
            url = url[:-1]
        if not url.split("://", 1)[1]:
            continue
        parts.append(escape(line[position : found.start()]))
        parts.append(Markup('<a href="{0}" rel="noopener nofollow">{0}</a>').format(url))
        position = found.start() + len(url)
    parts.append(escape(line[position:]))
    return Markup("").join(parts)


def text_html(text: str) -> Markup:
    """An announcement's plain text as HTML: paragraphs (`<p>`) where a blank line separates
    them, `<br>` for a single line break, links for bare addresses; nothing of the text is
    ever markup."""
    paragraphs = re.split(r"\n[ \t]*(?:\n[ \t]*)+", text.strip())
    return Markup("").join(
        Markup("<p>{}</p>").format(
            Markup("<br>\n").join(_linked(line.strip()) for line in p.split("\n"))
        )
        for p in paragraphs
        if p.strip()
    )


def is_valid(announcement: Announcement, on: date) -> bool:
    start, end = announcement["valid_from"], announcement.get("valid_to") or ""
    day = on.isoformat()
    return (not start or start <= day) and (not end or day <= end)


def _communities(documents: Iterable[dict[str, Any]]) -> dict[str, str]:
    """community id -> name, for the account's premises documents, in their order."""
    names: dict[str, str] = {}
    for document in documents:
        community = document["community"]
        names.setdefault(community["community_id"], community["name"])
    return names


def current_announcements(
    generation: Generation, documents: Iterable[dict[str, Any]], on: date | None = None
) -> list[dict[str, Any]]:
    """The announcements valid on `on` (default today) of the communities of these premises
    documents, newest first, ready for _announcements.html."""
    names = _communities(documents)
    if not names:
        return []
    on = on or today()
    found = [a for a in generation.announcements(names) if is_valid(a, on)]
    found.sort(key=lambda a: a["valid_from"], reverse=True)  # stable: export order in a day
    return [
        {
            "title": a["title"],
            "html": text_html(a["text"]),
            "valid_from": a["valid_from"],
            "valid_to": a.get("valid_to") or "",
            "community": names[a["community_id"]] if len(names) > 1 else None,
        }
        for a in found
    ]


# -- documents --------------------------------------------------------------------------------
def _size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024**2:
        return f"{round(size / 1024)} kB"
    return fmt.number(f"{size / 1024**2:.1f}") + " MB"  # 1,5 MB; in English 1.5 MB


def _listing(
    generation: Generation, names: dict[str, str], base: str = DOCUMENTS_URL
) -> list[tuple[str, list[dict[str, Any]]]]:
    """(community name, its documents newest first) for every community of the account; each
    document's download at `<base>/<document id>`."""
    by_community: dict[str, list[CommunityDocument]] = {cid: [] for cid in names}
    for document in generation.community_documents(names):
        by_community[document["community_id"]].append(document)
    listing = []
    for cid, documents in by_community.items():
        documents.sort(key=lambda d: d["date"], reverse=True)  # stable: export order in a day
        rows = [
            {
                "date": d["date"],
                "kind": _(KIND_LABELS.get(d["kind"], KIND_LABELS["other"])),
                "title": d["title"],
                "url": f"{base}/{d['document_id']}",
                "size": _size(d["size"]),
            }
            for d in documents
        ]
        listing.append((names[cid], rows))
    return listing


async def documents_page(request: Request) -> Response:
    generation, documents = account_premises(request)
    listing = _listing(generation, _communities(documents))
    return templates.TemplateResponse(request, "documents.html", {"communities": listing})


def preview_documents_page(
    request: Request, generation: Generation, documents: list[dict[str, Any]], preview: Any
) -> Response:
    """/documents as the resident of the office's `preview` (portal.premises.page.Preview)
    sees it, for these premises documents of theirs: the downloads lead into the preview."""
    listing = _listing(generation, _communities(documents), preview.documents)
    context = {"communities": listing, "preview": preview}
    return templates.TemplateResponse(request, "documents.html", context)


def download_name(document: CommunityDocument) -> str:
    """`2026-03-25-uchwala-nr-1-2026.pdf`: the date and the title in plain ASCII letters,
    digits and dashes, safe in any header and on any disk."""
    folded = unicodedata.normalize("NFKD", document["title"].replace("ł", "l").replace("Ł", "L"))
    ascii_title = folded.encode("ascii", "ignore").decode().lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title).strip("-")[:80].strip("-") or "dokument"
    return f"{document['date']}-{slug}.pdf"


async def document_download(request: Request) -> Response:
    document_id = request.path_params["document_id"]
    if not is_document_id(document_id):
        raise HTTPException(404)
    generation, documents = account_premises(request)
    return document_response(generation, documents, document_id)


def document_response(
    generation: Generation, documents: list[dict[str, Any]], document_id: str
) -> Response:
    """The PDF `document_id` of the communities of these premises documents, as a download
    that cannot run as a page; 404 for any other id, existing or not."""
    if not is_document_id(document_id):
        raise HTTPException(404)
    document = generation.community_document(document_id, _communities(documents))
    path = generation.document_file(document_id) if document is not None else None
    if document is None or path is None:
        raise HTTPException(404)
    return FileResponse(
        path,
        media_type="application/pdf",
        filename=download_name(document),
        headers={
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": DOCUMENT_CSP,
            "X-Content-Type-Options": "nosniff",
        },
    )


routes = [
    Route(DOCUMENTS_URL, documents_page, name="documents"),
    Route(DOCUMENTS_URL + "/{document_id}", document_download, name="document"),
]
