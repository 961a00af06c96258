"""/panel/accounts: the office finds premises and accounts, and opens accounts on applications.

    /panel/accounts             search: premises by id, address or payer (portal.panel.search),
                                accounts by login, e-mail, application number or premises id;
                                without a query, the newest accounts
    /panel/accounts/new         a new account from a signed application -> its one-time password
                                (shown once) and its activation letter to download
    /panel/accounts/letter      POST `token`: the letter PDF, once, to the member who was shown
                                the password, within 10 minutes (portal.panel.letters_store)

One account's page and its actions: portal.panel.account_actions; the preview:
portal.panel.preview_views.
"""

from __future__ import annotations

from datetime import date, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from portal.accounts.service import AccountError, check_email, check_login
from portal.i18n import N_
from portal.i18n import gettext as _
from portal.panel import letters_store, office, search
from portal.panel.audit import audit
from portal.panel.pages import render
from portal.panel.roles import OFFICE_WORK, Section, route
from portal.web.downloads import file_response
from portal.web.format import LOCAL_ZONE

RECENT = 20  # accounts listed without a query
MAX_QUERY = 200
MAX_APPLICATION_NUMBER = 50


async def accounts_page(request: Request) -> Response:
    query = request.query_params.get("q", "").strip()[:MAX_QUERY]
    service = office.accounts(request)
    context: dict = {
        "q": query,
        "generation": office.generation(request),
        "state_label": office.state_label,
        "limit": search.LIMIT,
    }
    if not query:
        context["recent"] = service.find("", limit=RECENT)
        return render(request, "panel/accounts_list.html", context)
    context["accounts"] = service.find(query, limit=search.LIMIT)
    current = context["generation"]
    if current is not None:
        index = search.built(request.app.state, current) or await run_in_threadpool(
            search.index, request.app.state, current
        )
        found = index.search(query)
        context["found"] = found
        context["linked"] = service.holders(p.premises_id for p in found.premises)
    return render(request, "panel/accounts_list.html", context)


# -- a new account ----------------------------------------------------------------------------
FIELDS = ("login", "email", "application_date", "application_number")


def _today() -> date:
    return datetime.now(LOCAL_ZONE).date()


def _form(request: Request, values: dict, errors: list[str] | None = None) -> Response:
    context = {"values": values, "errors": errors or [], "today": _today().isoformat()}
    return render(
        request, "panel/accounts_new.html", context, status_code=400 if errors else 200
    )


async def new_page(request: Request) -> Response:
    premises = [p.strip() for p in request.query_params.getlist("premises") if p.strip()]
    values = {name: "" for name in FIELDS}
    values.update(premises="\n".join(premises), application_date=_today().isoformat())
    return _form(request, values)


def parse_date(text: str) -> date | None:
    """`2026-11-24` (a date field) or `24.11.2026` (typed by hand); None if neither."""
    text = text.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.strptime(text, "%d.%m.%Y").date()
    except ValueError:
        return None


def _application(values: dict, errors: list[str]) -> tuple[date | None, str]:
    when = parse_date(values["application_date"])
    if not values["application_date"]:
        errors.append(_("Podaj datę wniosku."))
    elif when is None:
        errors.append(_("Data wniosku: wpisz datę jako dd.mm.rrrr, np. 24.11.2026."))
    elif when > _today():
        errors.append(_("Data wniosku nie może być późniejsza niż dzisiaj."))
    number = values["application_number"]
    if not number:
        errors.append(_("Podaj numer wniosku."))
    elif len(number) > MAX_APPLICATION_NUMBER or not number.isprintable():
        errors.append(
            _("Numer wniosku: najwyżej %(n)d zwykłych znaków.") % {"n": MAX_APPLICATION_NUMBER}
        )
    return when, number


async def new_submit(request: Request) -> Response:
    form = await request.form()
    values = {name: str(form.get(name) or "").strip() for name in FIELDS}
    premises = office.premises_from_form(form)
    values["premises"] = "\n".join(premises)
    errors: list[str] = []
    for check, value in ((check_login, values["login"]), (check_email, values["email"] or None)):
        try:
            check(value)
        except AccountError as exc:
            errors.append(office.polish(exc))
    if values["login"] and office.accounts(request).by_login(values["login"]) is not None:
        errors.append(office.polish(AccountError("already taken")))
    if problem := office.premises_problem(request, premises):
        errors.append(problem)
    when, number = _application(values, errors)
    if errors:
        return _form(request, values, errors)
    try:
        record, password = office.accounts(request).open_account(
            values["login"],
            premises,
            email=values["email"] or None,
            application_date=when,
            application_number=number,
        )
    except AccountError as exc:  # a login taken in the meantime
        return _form(request, values, [office.polish(exc)])
    details = [f"lokale: {', '.join(record.premises_ids)}"]
    details.append(f"wniosek nr {number} z {when:%d.%m.%Y}")
    if record.email:
        details.append(f"e-mail: {record.email}")
    audit(
        request,
        "account-created",
        target_kind="account",
        target=record.login,
        account_id=record.id,
        details="; ".join(details),
    )
    issued = office.issue(request, record, password, "activation")
    return password_page(request, issued)


def password_page(request: Request, issued: office.Issued) -> Response:
    """The one page that shows a one-time password (the answer to the POST that made it)."""
    context = {
        "issued": issued,
        "record": issued.record,
        "premises": office.describe(request, issued.record.premises_ids),
        "minutes": letters_store.LETTER_SECONDS // 60,
    }
    return render(request, "panel/accounts_password.html", context)


# -- the letter -------------------------------------------------------------------------------
async def letter(request: Request) -> Response:
    form = await request.form()
    token = str(form.get("token") or "")
    store = letters_store.store(request.app.state)
    waiting = store.take(token, letters_store.owner(request)) if token else None
    if waiting is None:
        context = {"minutes": letters_store.LETTER_SECONDS // 60}
        return render(request, "panel/accounts_letter_gone.html", context, status_code=410)
    from portal.accounts.letters import render_letter  # the PDF stack, lazily

    pdf = await run_in_threadpool(render_letter, waiting.letter)
    audit(
        request,
        "account-letter",
        target_kind="account",
        target=waiting.login,
        account_id=waiting.account_id,
        details=office.KIND_NAMES[waiting.letter.kind],
    )
    filename = office.letter_filename(waiting.login, waiting.letter.kind)
    return file_response(pdf, "application/pdf", filename)


routes = [
    route("/panel/accounts", accounts_page, OFFICE_WORK, name="panel_accounts"),
    route("/panel/accounts/new", new_page, OFFICE_WORK),
    route("/panel/accounts/new", new_submit, OFFICE_WORK, methods=["POST"]),
    route("/panel/accounts/letter", letter, OFFICE_WORK, methods=["POST"]),
]

sections = [
    Section(
        N_("Konta mieszkańców"),
        "/panel/accounts",
        OFFICE_WORK,
        N_("Wyszukiwanie lokali i kont, zakładanie kont na podstawie wniosku, nowe hasła,"
        " blokowanie i zamykanie kont, podgląd jak mieszkaniec."),
    )
]
