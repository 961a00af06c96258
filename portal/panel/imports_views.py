"""/panel/imports: the accountant sends ledger exports for import and reads every import's
result (role `accountant`, and `admin`).

    /panel/imports               the upload form, imports under way, the history (newest first)
    /panel/imports  (POST)       an upload: files to DATA/uploads/<id>/, queued, 303 to its page
    /panel/imports/{id}          progress (the page refreshes itself) or the result
    /panel/imports/{id}/retry    confirm, then import a refused export again with the option
                                 its refusal names (allow_shrink / replace_history)

The import runs in the import service's background thread (etl.import_service.ImportService,
given to the app by ebok.serve; portal.panel.importer says what it offers), one at a time under
the same lock as `ebok sync`, so an upload answers at once however long the import takes. Each
upload and re-run is audited when it is sent and again with its result.
"""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import RedirectResponse, Response

from portal.accounts.auth import client_address
from portal.i18n import N_, Labels, current_locale, plural_pl
from portal.i18n import gettext as _
from portal.panel import uploads
from portal.panel.audit import Actor, audit
from portal.panel.importer import (
    FAILED,
    INTERRUPTED,
    PUBLISHED,
    QUEUED,
    REJECTED,
    RUNNING,
    UNCHANGED,
    Importer,
    ImportRecord,
)
from portal.panel.pages import render
from portal.panel.roles import ACCOUNTING, Section, route

PAGE_SIZE = 50
REFRESH_SECONDS = 2

STATUS = Labels({
    QUEUED: N_("W kolejce"),
    RUNNING: N_("W toku"),
    PUBLISHED: N_("Opublikowano"),
    UNCHANGED: N_("Bez zmian"),
    REJECTED: N_("Odrzucono"),
    FAILED: N_("Błąd wewnętrzny"),
    INTERRUPTED: N_("Przerwano"),
})
REFUSALS = Labels({
    "shrink": N_("Wstrzymano: usunąłby opublikowane dane"),
    "history": N_("Wstrzymano: saldo otwarcia nie pasuje do historii"),
})
VIA = Labels(
    {
        "upload": N_("wysłany w panelu"),
        "sync": N_("skrzynka (ebok sync)"),
        "import": N_("ebok import"),
    }
)
WHO = Labels({"sync": N_("automat (ebok sync)"), "cli": N_("serwer (ebok import)")})
STAGES = Labels({
    "": N_("Czeka w kolejce na swoją kolej."),
    "waiting": N_("Czeka na zakończenie innego importu (np. automatycznego ebok sync)."),
    "reading": N_("Odczyt i sprawdzanie plików…"),
    "publishing": N_("Zapisywanie danych lokali…"),
    "archiving": N_("Archiwizowanie plików i raportu…"),
})
COUNTS = (
    ("premises", N_("Lokale")),
    ("ledger", N_("Wiersze kartoteki (obroty)")),
    ("fees", N_("Składniki opłat")),
    ("allowances", N_("Dodatki mieszkaniowe")),
)
RETRY = {
    # refusal -> (question, button, what it does)
    "shrink": (
        N_("Opublikować mimo zmniejszenia danych?"),
        N_("Opublikuj z zezwoleniem na zmniejszenie danych"),
        N_("Eksport zostanie zaimportowany ponownie z opcją „Zezwól na zmniejszenie danych”: "
        "lokale, których w nim nie ma, znikną z portalu, a obroty i opłaty zostaną zastąpione "
        "tymi z eksportu, nawet jeśli jest ich dużo mniej."),
    ),
    "history": (
        N_("Zastąpić opublikowaną historię?"),
        N_("Zastąp historię i opublikuj"),
        N_("Eksport zostanie zaimportowany ponownie z opcją „Zastąp historię”: jego kartoteka "
        "zastąpi opublikowaną w całości, wcześniejsze lata (sprzed pierwszej daty eksportu) "
        "znikną z portalu, a saldo otwarcia nie będzie sprawdzane."),
    ),
}


def status_label(record: ImportRecord) -> str:
    if record.status == REJECTED and record.refusal in REFUSALS:
        return REFUSALS[record.refusal]
    return STATUS.get(record.status, record.status)


def who_label(record: ImportRecord) -> str:
    return WHO.get(record.who, record.who) if record.via != "upload" else record.who


def size_text(size: int | None) -> str:
    """`532 B`, `12,4 kB`, `3,1 MB` (English: `12.4 kB`)."""
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    value, unit = (size / 1024, "kB") if size < 1024 * 1024 else (size / 1024 / 1024, "MB")
    text = f"{value:.1f} {unit}"
    return text if current_locale() == "en" else text.replace(".", ",")


def number_text(value: Any) -> str:
    """`12 345` (a thin space between thousands), or an empty string."""
    if value is None or value == "":
        return ""
    return f"{int(value):,}".replace(",", "\u202f")


def plural(n: int, one: str, few: str, many: str) -> str:
    """`1 lokal`, `2 lokale`, `5 lokali`, `22 lokale`, `112 lokali` (Polish plural forms)."""
    return f"{number_text(n)} {plural_pl(n, one, few, many)}"


NOUNS = {
    "premises": ("lokal", "lokale", "lokali"),
    "ledger": ("wiersz kartoteki", "wiersze kartoteki", "wierszy kartoteki"),
    "fees": ("składnik opłat", "składniki opłat", "składników opłat"),
    "allowances": ("dodatek", "dodatki", "dodatków"),
    "problems": ("problem", "problemy", "problemów"),
    "files": ("plik", "pliki", "plików"),
}
# The contract's tables as an accountant names them (docs/import-format.md).
TABLES = Labels({
    "communities": N_("wspólnoty"),
    "premises": N_("lokale"),
    "ledger": N_("obroty"),
    "fees": N_("opłaty"),
    "allowances": N_("dodatki"),
})


# The same nouns in English (singular, plural), for pages in English (portal.i18n).
NOUNS_EN = {
    "premises": ("premises", "premises"),
    "ledger": ("ledger row", "ledger rows"),
    "fees": ("fee component", "fee components"),
    "allowances": ("allowance", "allowances"),
    "problems": ("problem", "problems"),
    "files": ("file", "files"),
}


def count_text(n: Any, what: str) -> str:
    """`5 lokali` (English: `5 premises`, `1 problem`, `2 problems`)."""
    n = int(n or 0)
    if current_locale() == "en":
        one, many = NOUNS_EN[what]
        return f"{number_text(n)} {one if n == 1 else many}"
    return plural(n, *NOUNS[what])


def table_label(table: str) -> str:
    """`obroty (ledger)`: the accountant's word and the contract's."""
    return f"{TABLES[table]} ({table})" if table in TABLES else table


def source_label(record: ImportRecord) -> str:
    """The export's name; for many uploaded files, how many and the first two."""
    if record.via == "upload" and len(record.files) > 3:
        names = ", ".join(f["name"] for f in record.files[:2])
        return f"{count_text(len(record.files), 'files')}: {names}, …"
    return record.source


def change_text(before: Any, after: Any) -> str:
    if before is None or after is None or before == after:
        return _("bez zmian")
    diff = int(after) - int(before)
    return ("+" if diff > 0 else "−") + number_text(abs(diff))


HELPERS = {
    "status_label": status_label,
    "who_label": who_label,
    "source_label": source_label,
    "count_text": count_text,
    "table_label": table_label,
    "via_labels": VIA,
    "size_text": size_text,
    "number_text": number_text,
    "change_text": change_text,
    "count_labels": COUNTS,
}


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


def _audit_result(request: Request):
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
        on_finish=_audit_result(request),
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


def _record(request: Request, service: Importer) -> ImportRecord:
    record = service.job(request.path_params["import_id"])
    if record is None:
        raise HTTPException(404)
    return record


async def import_page(request: Request) -> Response:
    service = importer(request)
    if service is None:
        return unavailable(request)
    record = _record(request, service)
    headers = None
    if not record.finished:
        headers = {"refresh": str(REFRESH_SECONDS)}
    context = {
        "record": record,
        "stage": STAGES.get(record.stage, record.stage),
        "percent": (100 * record.done // record.total) if record.total else None,
        "refresh": REFRESH_SECONDS,
        "retry": RETRY.get(record.refusal) if record.status == REJECTED else None,
        **HELPERS,
    }
    return render(request, "panel/imports_job.html", context, headers=headers)


def _retry_page(
    request: Request, record: ImportRecord, error: str | None = None, status_code: int = 200
) -> Response:
    question, button, explanation = RETRY[record.refusal]
    context = {
        "record": record,
        "question": question,
        "button": button,
        "explanation": explanation,
        "error": error,
        **HELPERS,
    }
    return render(request, "panel/imports_retry.html", context, status_code=status_code)


def _refused(request: Request, service: Importer) -> ImportRecord:
    record = _record(request, service)
    if record.status != REJECTED or record.refusal not in RETRY:
        raise HTTPException(404)
    return record


async def retry_page(request: Request) -> Response:
    service = importer(request)
    if service is None:
        return unavailable(request)
    return _retry_page(request, _refused(request, service))


async def retry(request: Request) -> Response:
    service = importer(request)
    if service is None:
        return unavailable(request, 503)
    record = _refused(request, service)
    staff = request.state.staff
    new_id = service.retry(record.id, who=staff.login, on_finish=_audit_result(request))
    if new_id is None:
        error = _(
            "Plików tego eksportu nie ma już w katalogu odrzuconych (rejected/); "
            "wyślij eksport ponownie, zaznaczając odpowiednią opcję."
        )
        return _retry_page(request, record, error, status_code=409)
    option = (
        "zezwolono na zmniejszenie danych"
        if record.refusal == "shrink"
        else ("zastąpienie historii")
    )
    audit(
        request,
        "import-retry",
        target_kind="import",
        target=new_id,
        details=f"{record.source}: ponownie po wstrzymaniu {record.id}; {option}",
    )
    return RedirectResponse(f"/panel/imports/{new_id}", status_code=303)


routes = [
    route("/panel/imports", imports_page, ACCOUNTING, name="panel_imports"),
    route("/panel/imports", upload, ACCOUNTING, methods=["POST"]),
    route("/panel/imports/{import_id}", import_page, ACCOUNTING, name="panel_import"),
    route("/panel/imports/{import_id}/retry", retry_page, ACCOUNTING),
    route("/panel/imports/{import_id}/retry", retry, ACCOUNTING, methods=["POST"]),
]

sections = [
    Section(
        N_("Importy"),
        "/panel/imports",
        ACCOUNTING,
        N_("Wysyłanie eksportów z programu księgowego; wynik i raport każdego importu."),
    ),
]
