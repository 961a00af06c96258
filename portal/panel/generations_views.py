"""/panel/generations: the published generations, and rollback to a chosen one (role
`accountant`, and `admin`), as `ebok generations` and `ebok rollback --to` do on the server.

    /panel/generations                 each kept generation: import time, sources (names, sizes,
                                       SHA-256), figures, communities with their as-of dates
    /panel/generations/rollback        choose a generation (?to=<id>: confirm it), then POST

The list is read from the snapshot store (etl.snapshot, the contract the portal may read); the
rollback itself goes through the import service (portal.panel.importer), which switches the
current generation under the import lock, so it never races an import. Each rollback is
audited (`rollback`). Residents see the restored data within half a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from etl.snapshot.store import SnapshotStore
from portal.i18n import N_, current_locale
from portal.i18n import gettext as _
from portal.panel.audit import audit
from portal.panel.import_labels import HELPERS
from portal.panel.imports_views import importer, unavailable
from portal.panel.pages import render
from portal.panel.roles import ACCOUNTING, Section, route
from portal.web.templating import templates

KINDS = {"contract": "CSV / XLSX", "legacy": "eksport „#” (stary format)"}


@dataclass(frozen=True)
class GenerationRow:
    id: str
    current: bool
    imported_at: str | None
    kind: str
    sources: list[dict[str, Any]]
    counts: dict[str, int]
    communities: dict[str, dict[str, Any]]
    warnings: list[str]
    previous: str | None


def _rows(store: SnapshotStore) -> list[GenerationRow]:
    """Every kept generation, newest first."""
    current = store.current()
    rows = []
    for gen_id in reversed(store.generation_ids()):
        try:
            manifest = store.generation(gen_id).manifest
        except (KeyError, OSError, ValueError):  # pruned or unreadable meanwhile
            continue
        rows.append(
            GenerationRow(
                id=gen_id,
                current=current is not None and current.id == gen_id,
                imported_at=manifest.get("imported_at"),
                kind=KINDS.get(manifest.get("kind", ""), manifest.get("kind", "")),
                sources=list(manifest.get("sources", [])),
                counts=dict(manifest.get("counts", {})),
                communities=dict(manifest.get("communities", {})),
                warnings=list(manifest.get("warnings", [])),
                previous=manifest.get("previous"),
            )
        )
    return rows


def _store(request: Request) -> SnapshotStore:
    return request.app.state.store


async def generations_page(request: Request) -> Response:
    store = _store(request)
    can_rollback = importer(request) is not None
    rows = _rows(store)
    context = {
        "rows": rows,
        "rows_html": _rows_html(request, rows, can_rollback),
        "restored": request.query_params.get("restored"),
        "keep": request.app.state.settings.keep_generations,
        "can_rollback": can_rollback,
    }
    return render(request, "panel/generations.html", context)


def _rows_html(request: Request, rows: list[GenerationRow], can_rollback: bool) -> Markup:
    """The list of generations as HTML, rendered once for each set of generations (a new
    import or a rollback makes another) and language: rendering it was most of the page's
    cost."""
    key = (tuple((r.id, r.current) for r in rows), can_rollback, current_locale())
    cached = getattr(request.app.state, "generations_html", None)
    if cached is not None and cached[0] == key:
        return cached[1]
    html = Markup(
        templates.get_template("panel/generations_list.html").render(
            rows=rows, can_rollback=can_rollback, **HELPERS
        )
    )
    request.app.state.generations_html = (key, html)
    return html


def _confirm(
    request: Request, rows: list[GenerationRow], target: GenerationRow, **extra: Any
) -> Response:
    status_code = extra.pop("status_code", 200)
    current = next((r for r in rows if r.current), None)
    context = {"target": target, "current": current, **HELPERS, **extra}
    return render(request, "panel/generations_rollback.html", context, status_code=status_code)


async def rollback_page(request: Request) -> Response:
    if importer(request) is None:
        return unavailable(request)
    rows = _rows(_store(request))
    wanted = request.query_params.get("to")
    if not wanted:  # choose first
        choices = [r for r in rows if not r.current]
        return render(request, "panel/generations_rollback.html", {"choices": choices, **HELPERS})
    target = next((r for r in rows if r.id == wanted), None)
    if target is None:
        raise HTTPException(404)
    return _confirm(request, rows, target)


async def rollback(request: Request) -> Response:
    service = importer(request)
    if service is None:
        return unavailable(request, 503)
    form = await request.form()
    wanted = str(form.get("to") or "")
    rows = _rows(_store(request))
    target = next((r for r in rows if r.id == wanted), None)
    if target is None:
        choices = [r for r in rows if not r.current]
        error = _("Wybierz generację z listy; tej nie ma wśród przechowywanych.")
        return render(
            request,
            "panel/generations_rollback.html",
            {"choices": choices, "error": error, **HELPERS},
            status_code=400,
        )
    result = service.rollback(target.id)
    if not result.done:
        error = {
            "busy": _(
                "Trwa import danych; przywrócenie jest możliwe po jego zakończeniu. "
                "Spróbuj za chwilę."
            ),
            "current": _("Ta generacja jest już bieżąca."),
        }.get(result.reason, _("Tej generacji nie ma już wśród przechowywanych."))
        return _confirm(request, rows, target, error=error, status_code=409)
    audit(
        request,
        "rollback",
        target_kind="generation",
        target=target.id,
        details=f"poprzednio bieżąca: {result.was or 'brak'}",
    )
    return RedirectResponse(f"/panel/generations?restored={target.id}", status_code=303)


routes = [
    route("/panel/generations", generations_page, ACCOUNTING, name="panel_generations"),
    route("/panel/generations/rollback", rollback_page, ACCOUNTING),
    route("/panel/generations/rollback", rollback, ACCOUNTING, methods=["POST"]),
]

sections = [
    Section(
        N_("Generacje danych"),
        "/panel/generations",
        ACCOUNTING,
        N_("Opublikowane wersje danych: co zawierają, która jest bieżąca; przywracanie."),
    ),
]
