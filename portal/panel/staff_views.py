"""/panel/staff: the administrator manages staff accounts (the same actions as `ebok staff`).

    /panel/staff                      the list; enable a blocked account
    /panel/staff/new                  a new member: login, role, e-mail -> a one-time password
    /panel/staff/{id}/disable         confirm, then block (every session ends)
    /panel/staff/{id}/reset           confirm, then a new one-time password (the app is forgotten)
    /panel/staff/{id}/enable          unblock

A one-time password is shown once, in the answer to the POST that made it (never in a URL,
never stored; responses are not cached). Administrators cannot block or reset themselves, so
there is always an administrator left to sign in.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from portal.i18n import N_
from portal.i18n import gettext as _
from portal.panel.audit import audit
from portal.panel.pages import render
from portal.panel.roles import ADMIN_ONLY, OFFICE, ROLE_NAMES, ROLES, Section, route
from portal.panel.staff import ACTIVE, DISABLED, Staff, StaffError, StaffMember

MSG_SELF = N_("Nie można zablokować ani zresetować własnego konta.")

# What each confirmed action says and does: (question, button, notice after it).
CONFIRMED = {
    "disable": (
        N_("Zablokować konto pracownika {login}?"),
        N_("Zablokuj konto"),
        N_("Konto {login} zostało zablokowane; wszystkie jego sesje zakończono."),
    ),
    "reset": (
        N_("Wydać nowe hasło jednorazowe dla {login}?"),
        N_("Wydaj nowe hasło"),
        "",
    ),
}


def _service(request: Request) -> Staff:
    return request.app.state.staff


def _member(request: Request) -> StaffMember:
    member = _service(request).get(request.path_params["staff_id"])
    if member is None:
        raise HTTPException(404)
    return member


def _action(request: Request) -> str:
    action = request.path_params["action"]
    if action not in CONFIRMED:
        raise HTTPException(404)
    return action


async def staff_list(request: Request) -> Response:
    notice = request.query_params.get("done")
    return render(
        request,
        "panel/staff_list.html",
        {"members": _service(request).list(), "notice": notice, "active": ACTIVE},
    )


def _new_form(request: Request, values: dict, error: str | None = None, status: int = 200):
    context = {"values": values, "error": error, "roles": ROLES}
    return render(request, "panel/staff_new.html", context, status_code=status)


async def new_page(request: Request) -> Response:
    return _new_form(request, {"role": OFFICE})


async def new_submit(request: Request) -> Response:
    form = await request.form()
    values = {name: str(form.get(name) or "").strip() for name in ("login", "role", "email")}
    try:
        member, password = _service(request).create(
            values["login"], values["role"], email=values["email"] or None
        )
    except StaffError as exc:
        return _new_form(request, values, _polish(str(exc)), status=400)
    audit(
        request,
        "staff-created",
        target_kind="staff",
        target=member.login,
        details=f"rola: {ROLE_NAMES[member.role]}",
    )
    return render(
        request, "panel/staff_password.html", {"member": member, "password": password}
    )


async def confirm_page(request: Request) -> Response:
    action = _action(request)
    return _confirm(request, _member(request), action)


def _confirm(request: Request, member: StaffMember, action: str, error: str | None = None):
    question, button, _notice = CONFIRMED[action]
    context = {
        "member": member,
        "action": action,
        "question": _(question).format(login=member.login),
        "button": button,
        "error": error,
    }
    return render(
        request, "panel/staff_confirm.html", context, status_code=400 if error else 200
    )


async def confirm_submit(request: Request) -> Response:
    action = _action(request)
    member = _member(request)
    if member.id == request.state.staff.id:
        return _confirm(request, member, action, MSG_SELF)
    service = _service(request)
    if action == "reset":
        member, password = service.reset(member.login)
        audit(request, "staff-reset", target_kind="staff", target=member.login)
        return render(
            request,
            "panel/staff_password.html",
            {"member": member, "password": password, "reset": True},
        )
    if service.set_status(member.id, DISABLED):
        audit(request, "staff-disabled", target_kind="staff", target=member.login)
    return RedirectResponse("/panel/staff?done=disabled", status_code=303)


async def enable(request: Request) -> Response:
    member = _member(request)
    if _service(request).set_status(member.id, ACTIVE):
        audit(request, "staff-enabled", target_kind="staff", target=member.login)
    return RedirectResponse("/panel/staff?done=enabled", status_code=303)


def _polish(message: str) -> str:
    """The service's refusals, for the form."""
    if "already taken" in message:
        return _("Ten login jest już zajęty.")
    if "e-mail" in message:
        return _("To nie jest poprawny adres e-mail.")
    if "role" in message:
        return _("Wybierz rolę z listy.")
    return _("Login nie może być pusty ani zawierać spacji (najwyżej 64 znaki).")


# /panel/staff/{id}/disable and /reset: a confirmation page (GET) and the action (POST).
CONFIRM_PATH = "/panel/staff/{staff_id:int}/{action:str}"
routes = [
    route("/panel/staff", staff_list, ADMIN_ONLY, name="panel_staff"),
    route("/panel/staff/new", new_page, ADMIN_ONLY),
    route("/panel/staff/new", new_submit, ADMIN_ONLY, methods=["POST"]),
    route("/panel/staff/{staff_id:int}/enable", enable, ADMIN_ONLY, methods=["POST"]),
    route(CONFIRM_PATH, confirm_page, ADMIN_ONLY),
    route(CONFIRM_PATH, confirm_submit, ADMIN_ONLY, methods=["POST"]),
]

sections = [
    Section(
        N_("Pracownicy"),
        "/panel/staff",
        ADMIN_ONLY,
        N_("Konta pracowników biura: zakładanie, blokowanie, nowe hasła jednorazowe."),
    )
]
