"""/panel/imports: the accountant sends ledger exports for import and reads the history of
every import (role `accountant`, and `admin`).

    /panel/imports               the upload form, imports under way, the history (newest first)
    /panel/imports  (POST)       an upload: files to DATA/uploads/<id>/, queued, 303 to its page

One import's page and its re-run are import_job_views; the wording of an import on all these
pages is import_labels. The import runs in the import service's background thread
(etl.import_service.ImportService, given to the app by ebok.serve; portal.panel.importer says
what it offers), one at a time under the same lock as `ebok sync`, so an upload answers at once
however long the import takes. Each upload and re-run is audited when it is sent and again with
its result (`audit_result`).
"""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response

from portal.accounts.auth import client_address
from portal.i18n import N_
from portal.i18n import gettext as _
from portal.panel import uploads
from portal.panel.audit import Actor, audit
from portal.panel.import_labels import HELPERS, size_text, status_label
from portal.panel.importer import FAILED, PUBLISHED, REJECTED, Importer, ImportRecord
from portal.panel.pages import render
from portal.panel.roles import ACCOUNTING, Section, route

PAGE_SIZE = 50


def importer(request: Request) -> Importer | None:
    return getattr(request.app.state, "importer", None)


def unavailable(request: Request, status_code: int = 200) -> Response:
    """The app was made without an import service (`ebok serve` always gives one)."""
    return render(request, "panel/imports_unavailable.html", status_code=status_code)


def _page_number(request: Request) -> int:
    try:
        return max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        return 1


def _imports_page(
    request: Request, service: Importer, *, error: str | None = None, status_code: int = 200
) -> Response:
    page = _page_number(request) if error is None else 1
    records, total = service.history(offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    context = {
        "records": records,
        "active": service.active(),
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "error": error,
        "max_mb": uploads.MAX_UPLOAD_BYTES // (1024 * 1024),
        **HELPERS,
    }
    return render(request, "panel/imports.html", context, status_code=status_code)


async def imports_page(request: Request) -> Response:
    service = importer(request)
    if service is None:
        return unavailable(request)
    return _imports_page(request, service)


def _checked(fields: dict[str, str], name: str) -> bool:
    return fields.get(name, "") in ("1", "on", "true")


def _options_text(allow_shrink: bool, replace_history: bool) -> str:
    chosen = [
        text
        for on, text in (
            (allow_shrink, "zezwolono na zmniejszenie danych"),
            (replace_history, "zastąpienie historii"),
        )
        if on
    ]
    return "; ".join(chosen)


def _result_text(record: ImportRecord) -> str:
    """The result in a line, for the audit log."""
    if record.status == PUBLISHED:
        c = record.counts
        return (
            f"{record.source}: opublikowano generację {record.generation} "
            f"(lokale: {c.get('premises', 0)}, wiersze kartoteki: {c.get('ledger', 0)})"
        )
    if record.status == REJECTED:
        return f"{record.source}: {status_label(record).lower()} ({record.problem_total} probl.)"
    if record.status == FAILED:
        return f"{record.source}: błąd wewnętrzny: {record.error}"
    return f"{record.source}: {status_label(record).lower()}"


def audit_result(request: Request):
    """A callback for the import service: the result in the audit log, in the member's name
    (it runs in the import thread, after this request has long been answered)."""
    staff = request.state.staff
    actor, client = Actor(staff.id, staff.login), client_address(request)
    log = request.app.state.audit

    def record_result(record: ImportRecord) -> None:
        log.append(
            "import-result",
            actor=actor,
            client=client,
            target_kind="import",
            target=record.id,
            details=_result_text(record),
        )

    return record_result


async def upload(request: Request) -> Response:
    service = importer(request)
    if service is None:
        return unavailable(request, 503)
    limit = uploads.MAX_UPLOAD_BYTES
    if uploads.declared_too_large(request, limit):
        return _imports_page(
            request, service, error=uploads.too_large_message(limit), status_code=413
        )
    staff = request.state.staff
    received_upload = service.receive(staff.login)
    try:
        received = await uploads.receive_files(request, received_upload, limit=limit)
    except uploads.TooLarge as exc:
        received_upload.discard()
        return _imports_page(request, service, error=str(exc), status_code=413)
    except uploads.UploadRefused as exc:
        received_upload.discard()
        return _imports_page(request, service, error=str(exc), status_code=400)
    except ClientDisconnect:
        received_upload.discard()
        return Response(status_code=400)
    except BaseException:
        received_upload.discard()
        raise
    if not received.files:
        received_upload.discard()
        error = _("Wybierz plik eksportu (CSV, XLSX albo ZIP).")
        return _imports_page(request, service, error=error, status_code=400)
    allow_shrink = _checked(received.fields, "allow_shrink")
    replace_history = _checked(received.fields, "replace_history")
    import_id = service.start(
        received_upload,
        who=staff.login,
        allow_shrink=allow_shrink,
        replace_history=replace_history,
        on_finish=audit_result(request),
    )
    options = _options_text(allow_shrink, replace_history)
    details = ", ".join(received.files) + f" ({size_text(received.size)})"
    audit(
        request,
        "upload",
        target_kind="import",
        target=import_id,
        details=details + (f"; {options}" if options else ""),
    )
    return RedirectResponse(f"/panel/imports/{import_id}", status_code=303)


routes = [
    route("/panel/imports", imports_page, ACCOUNTING, name="panel_imports"),
    route("/panel/imports", upload, ACCOUNTING, methods=["POST"]),
]

sections = [
    Section(
        N_("Importy"),
        "/panel/imports",
        ACCOUNTING,
        N_("Wysyłanie eksportów z programu księgowego; wynik i raport każdego importu."),
    ),
]
