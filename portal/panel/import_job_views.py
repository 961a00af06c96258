"""/panel/imports/{id}: one import's progress and result, and re-running a refused export with
the option its refusal names (role `accountant`, and `admin`).

    /panel/imports/{id}          progress (the page refreshes itself) or the result
    /panel/imports/{id}/retry    confirm, then import a refused export again with the option
                                 its refusal names (allow_shrink / replace_history)

The list of imports and the upload that starts one are imports_views; a re-run goes through the
same import service and is audited the same way (sent, then its result).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from portal.i18n import N_
from portal.i18n import gettext as _
from portal.panel.audit import audit
from portal.panel.import_labels import HELPERS, STAGES
from portal.panel.importer import REJECTED, Importer, ImportRecord
from portal.panel.imports_views import audit_result, importer, unavailable
from portal.panel.pages import render
from portal.panel.roles import ACCOUNTING, route

REFRESH_SECONDS = 2

RETRY = {
    # refusal -> (question, button, what it does)
    "shrink": (
        N_("Opublikować mimo zmniejszenia danych?"),
        N_("Opublikuj z zezwoleniem na zmniejszenie danych"),
        N_(
            "Eksport zostanie zaimportowany ponownie z opcją „Zezwól na zmniejszenie danych”: "
            "lokale, których w nim nie ma, znikną z portalu, a obroty i opłaty zostaną zastąpione "
            "tymi z eksportu, nawet jeśli jest ich dużo mniej."
        ),
    ),
    "history": (
        N_("Zastąpić opublikowaną historię?"),
        N_("Zastąp historię i opublikuj"),
        N_(
            "Eksport zostanie zaimportowany ponownie z opcją „Zastąp historię”: jego kartoteka "
            "zastąpi opublikowaną w całości, wcześniejsze lata (sprzed pierwszej daty eksportu) "
            "znikną z portalu, a saldo otwarcia nie będzie sprawdzane."
        ),
    ),
}


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
    new_id = service.retry(record.id, who=staff.login, on_finish=audit_result(request))
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
    route("/panel/imports/{import_id}", import_page, ACCOUNTING, name="panel_import"),
    route("/panel/imports/{import_id}/retry", retry_page, ACCOUNTING),
    route("/panel/imports/{import_id}/retry", retry, ACCOUNTING, methods=["POST"]),
]
