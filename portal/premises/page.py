"""What every premises page is built from: the premises id in the path, the links between the
pages, the context they all share from the document, the address header with its tabs, and
`Page` (the request, the document and its memo), for the resident and for the office's preview.

Premises ids contain `/` and spaces (`KW5/12`, `G 3`). Links quote them as one path segment
(`etl.snapshot.ids`), but the server sees the decoded path, so routes take the rest of the
path with a convertor that stops before a known sub-page name.

The same pages, read-only, are the office's "view as the resident" (portal.panel): a `Preview`
says whose account is shown and where the links lead. The pages themselves are in
portal.premises.overview (the hot path), portal.premises.views (the list and the other tabs)
and the modules that add their own tabs (readings, slips).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request

from etl.snapshot.document import Document
from etl.snapshot.ids import quote_premises_id
from portal.i18n import current_locale
from portal.i18n import gettext as _
from portal.premises import community, ledger
from portal.premises.documents import derived, get_premises
from portal.web.templating import templates

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


def verdict(balance: int) -> tuple[str, str]:
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


def nav_renderer(tab: str, preview: Preview | None = None) -> Callable[[dict[str, Any]], Markup]:
    """The address header with its tabs (premises_nav.html), `tab` marked, as a function of
    the document alone: for the resident it is memoised with the cached document."""

    def render(document: dict[str, Any]) -> Markup:
        context = {**document_context(document, preview), "tab": tab}
        return Markup(templates.get_template("premises_nav.html").render(context))

    return render


class Page:
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
    def resident(cls, request: Request) -> Page:
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
            nav = self.derived(f"nav:{tab}:{current_locale()}", nav_renderer(tab))
        else:
            base = document_context(self.document, self.preview)
            nav = nav_renderer(tab, self.preview)(self.document)
        return {**base, "request": self.request, "tab": tab, "nav": nav, **extra}

    def entries(self) -> list[ledger.Entry]:
        return self.derived("entries", ledger.entries)
