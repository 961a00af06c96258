"""/panel/accounts/{id}: one resident account for the office, and what the office does with it
(the same actions as `ebok accounts`, each in the audit log):

    /panel/accounts/{id}            premises, e-mail, state, application, sign-ins; the actions
    /panel/accounts/{id}/link       POST: more premises (checked against the published data)
    /panel/accounts/{id}/email      POST: set or (empty) remove the e-mail address
    /panel/accounts/{id}/enable     POST: unblock
    /panel/accounts/{id}/unlink     confirm (GET, `?premises=` preselects), then POST
    /panel/accounts/{id}/disable    confirm, then block (every session ends)
    /panel/accounts/{id}/reset      confirm, then a new one-time password and letter
    /panel/accounts/{id}/close      confirm with a required checkbox, then close (resignation)

A destructive action happens only on a POST that carries `confirmed` (the confirmation page's
form sends it; closing asks for it as a checkbox); any other POST shows the confirmation again.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from portal.accounts.lifecycle import notify_password_changed
from portal.accounts.service import ACTIVE, CLOSED, DISABLED, AccountError, AccountRecord
from portal.i18n import N_, Labels
from portal.i18n import gettext as _
from portal.panel import office
from portal.panel.accounts_views import password_page
from portal.panel.audit import audit
from portal.panel.pages import render
from portal.panel.roles import OFFICE_WORK, route
from portal.premises.page import premises_url
from portal.web.format import LOCAL_ZONE

SIGN_INS_SHOWN = 10

# why a sign-in failed (portal.accounts.auth) -> the office's words
REASONS = Labels({
    "wrong password": N_("złe hasło"),
    "throttled": N_("wstrzymane po wielu nieudanych próbach"),
    "disabled": N_("konto zablokowane"),
    "closed": N_("konto zamknięte"),
})

# ?done= on the account page -> the notice it shows
NOTICES = {
    "linked": N_("Lokale zostały przypisane do konta."),
    "unlinked": N_("Lokal został odłączony od konta."),
    "email-set": N_("Adres e-mail został zapisany."),
    "email-removed": N_(
        "Adres e-mail został usunięty. Mieszkaniec nie odzyska hasła przez e-mail."
    ),
    "disabled": N_("Konto zostało zablokowane; wszystkie sesje mieszkańca zakończono."),
    "enabled": N_("Konto zostało odblokowane."),
    "closed": N_("Konto zostało zamknięte; wszystkie sesje mieszkańca zakończono."),
}

# action -> (question, button, what happens)
CONFIRMED = {
    "unlink": (
        N_("Odłączyć lokal od konta {login}?"),
        N_("Odłącz lokal"),
        N_(
            "Mieszkaniec przestanie widzieć ten lokal w EBOK. Lokal można później przypisać "
            "ponownie."
        ),
    ),
    "disable": (
        N_("Zablokować konto {login}?"),
        N_("Zablokuj konto"),
        N_("Mieszkaniec nie zaloguje się, a jego otwarte sesje skończą się od razu. "
        "Konto można później odblokować."),
    ),
    "reset": (
        N_("Wydać nowe hasło jednorazowe dla {login}?"),
        N_("Wydaj nowe hasło"),
        N_("Obecne hasło przestanie działać, a otwarte sesje skończą się od razu. Przy logowaniu "
        "nowym hasłem jednorazowym mieszkaniec ustawi własne hasło."),
    ),
    "close": (
        N_("Zamknąć konto {login} na podstawie rezygnacji?"),
        N_("Zamknij konto"),
        N_("Zamknięcia nie da się cofnąć: konto nie zaloguje się ani nie odzyska hasła, a jego "
        "otwarte sesje skończą się od razu. Adres e-mail i historia logowań zostaną usunięte "
        "po {days} dniach. Jeśli mieszkaniec wróci, podpisze nowy wniosek o nowe konto."),
    ),
}


def _done(record: AccountRecord, notice: str) -> Response:
    return RedirectResponse(f"{office.account_url(record)}?done={notice}", status_code=303)


def _page(
    request: Request,
    record: AccountRecord,
    *,
    error: str | None = None,
    values: dict | None = None,
) -> Response:
    service = office.accounts(request)
    settings = request.app.state.settings
    application_date, application_number = service.application(record.id)
    premises = office.describe(request, record.premises_ids)
    preview_base = f"{office.account_url(record)}/preview/premises"
    for row in premises:
        row["preview_url"] = premises_url(row["id"], base=preview_base)
        query = urlencode({"premises": row["id"]})
        row["unlink_url"] = f"{office.account_url(record)}/unlink?{query}"
    context = {
        "record": record,
        "state": office.state_label(record),
        "premises": premises,
        "reasons": REASONS,
        "application_date": application_date,
        "application_number": application_number,
        "closure": service.closure(record, settings.closed_account_retention_days),
        "sign_ins": service.sign_in_history(record.id, limit=SIGN_INS_SHOWN),
        "notice": NOTICES.get(request.query_params.get("done", "")),
        "error": error,
        "values": values or {},
        "active": record.status == ACTIVE,
        "closed": record.status == CLOSED,
    }
    return render(
        request, "panel/accounts_detail.html", context, status_code=400 if error else 200
    )


async def account_page(request: Request) -> Response:
    return _page(request, office.account(request))


def _refuse_closed(request: Request, record: AccountRecord) -> Response | None:
    if record.status == CLOSED:
        return _page(request, record, error=_("Konto jest zamknięte: nie można go już zmieniać."))
    return None


async def link(request: Request) -> Response:
    record = office.account(request)
    if refused := _refuse_closed(request, record):
        return refused
    form = await request.form()
    premises = office.premises_from_form(form)
    if problem := office.premises_problem(request, premises):
        return _page(request, record, error=problem, values={"premises": "\n".join(premises)})
    service = office.accounts(request)
    added = [pid for pid in premises if service.link(record.id, pid)]
    if added:
        audit(
            request,
            "account-linked",
            target_kind="account",
            target=record.login,
            account_id=record.id,
            details=f"lokale: {', '.join(added)}",
        )
    return _done(record, "linked")


async def set_email(request: Request) -> Response:
    record = office.account(request)
    if refused := _refuse_closed(request, record):
        return refused
    form = await request.form()
    email = str(form.get("email") or "").strip() or None
    try:
        office.accounts(request).set_email(record.id, email)
    except AccountError as exc:
        return _page(request, record, error=office.polish(exc), values={"email": email})
    if email != record.email:
        details = f"e-mail: {email}" if email else "e-mail usunięty"
        if record.email:
            details += f" (był: {record.email})"
        audit(
            request,
            "account-email",
            target_kind="account",
            target=record.login,
            account_id=record.id,
            details=details,
        )
    return _done(record, "email-set" if email else "email-removed")


async def enable(request: Request) -> Response:
    record = office.account(request)
    if refused := _refuse_closed(request, record):
        return refused
    if record.status == DISABLED:
        office.accounts(request).set_status(record.id, ACTIVE)
        audit(
            request,
            "account-enabled",
            target_kind="account",
            target=record.login,
            account_id=record.id,
        )
    return _done(record, "enabled")


# -- confirmed actions ------------------------------------------------------------------------
def _confirm(
    request: Request,
    record: AccountRecord,
    action: str,
    *,
    premises: str = "",
    error: str | None = None,
) -> Response:
    question, button, explanation = (_(text) for text in CONFIRMED[action])
    days = request.app.state.settings.closed_account_retention_days
    context = {
        "record": record,
        "state": office.state_label(record),
        "action": action,
        "question": question.format(login=record.login),
        "button": button,
        "explanation": explanation.format(days=days),
        "premises": office.describe(request, record.premises_ids),
        "chosen": premises,
        "error": error,
    }
    status = 400 if error else 200
    return render(request, "panel/accounts_confirm.html", context, status_code=status)


def _confirmer(action: str):
    async def confirm_page(request: Request) -> Response:
        record = office.account(request)
        if refused := _refuse_closed(request, record):
            return refused
        return _confirm(request, record, action, premises=request.query_params.get("premises", ""))

    confirm_page.__name__ = f"confirm_{action}"
    return confirm_page


def _doer(action: str):
    async def do(request: Request) -> Response:
        record = office.account(request)
        if refused := _refuse_closed(request, record):
            return refused
        form = await request.form()
        premises = str(form.get("premises") or "")
        if not form.get("confirmed"):
            error = _("Zaznacz potwierdzenie, aby zamknąć konto.") if action == "close" else None
            return _confirm(request, record, action, premises=premises, error=error)
        return await ACTIONS[action](request, record, premises)

    do.__name__ = f"do_{action}"
    return do


async def _unlink(request: Request, record: AccountRecord, premises: str) -> Response:
    if premises not in record.premises_ids:
        error = _("Wybierz lokal przypisany do tego konta.")
        return _confirm(request, record, "unlink", error=error)
    if office.accounts(request).unlink(record.id, premises):
        audit(
            request,
            "account-unlinked",
            target_kind="account",
            target=record.login,
            account_id=record.id,
            details=f"lokal: {premises}",
        )
    return _done(record, "unlinked")


async def _disable(request: Request, record: AccountRecord, premises: str) -> Response:
    if record.status != DISABLED:
        office.accounts(request).set_status(record.id, DISABLED)
        audit(
            request,
            "account-disabled",
            target_kind="account",
            target=record.login,
            account_id=record.id,
        )
    return _done(record, "disabled")


async def _reset(request: Request, record: AccountRecord, premises: str) -> Response:
    updated, password = office.accounts(request).office_reset(record.login)
    state = request.app.state
    notified = notify_password_changed(state.mailer, state.settings, updated, "office")
    audit(
        request,
        "account-reset",
        target_kind="account",
        target=updated.login,
        account_id=updated.id,
        details="powiadomienie wysłane na e-mail" if notified else None,
    )
    return password_page(request, office.issue(request, updated, password, "reset"))


async def _close(request: Request, record: AccountRecord, premises: str) -> Response:
    closed = office.accounts(request).close_account(record.login)
    closure = office.accounts(request).closure(
        closed, request.app.state.settings.closed_account_retention_days
    )
    details = None
    if closure is not None and closure.erase_after is not None:
        erase_after = closure.erase_after.astimezone(LOCAL_ZONE)
        details = f"rezygnacja; e-mail i historia logowań do usunięcia po {erase_after:%d.%m.%Y}"
    audit(
        request,
        "account-closed",
        target_kind="account",
        target=closed.login,
        account_id=closed.id,
        details=details,
    )
    return _done(closed, "closed")


ACTIONS = {"unlink": _unlink, "disable": _disable, "reset": _reset, "close": _close}

ACCOUNT = "/panel/accounts/{account_id:int}"
routes = [
    route(ACCOUNT, account_page, OFFICE_WORK, name="panel_account"),
    route(ACCOUNT + "/link", link, OFFICE_WORK, methods=["POST"]),
    route(ACCOUNT + "/email", set_email, OFFICE_WORK, methods=["POST"]),
    route(ACCOUNT + "/enable", enable, OFFICE_WORK, methods=["POST"]),
]
for _action in CONFIRMED:
    routes.append(route(f"{ACCOUNT}/{_action}", _confirmer(_action), OFFICE_WORK))
    routes.append(route(f"{ACCOUNT}/{_action}", _doer(_action), OFFICE_WORK, methods=["POST"]))
