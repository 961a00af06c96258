"""/panel/audit: the audit log for administrators, filtered by staff login, action, target and
dates (local days, both included), newest first; /panel/audit.csv downloads the same rows."""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from portal.i18n import N_
from portal.panel.audit import ACTIONS, CSV_LIMIT, PAGE_SIZE, AuditLog, Filter, to_csv
from portal.panel.pages import render
from portal.panel.roles import ADMIN_ONLY, Section, route

FIELDS = ("staff", "action", "target", "since", "until")


def _date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _filter(request: Request) -> tuple[Filter, dict[str, str]]:
    """The filter, and the form's values as typed (a bad date is ignored and shown empty)."""
    values = {name: request.query_params.get(name, "").strip()[:200] for name in FIELDS}
    since, until = _date(values["since"]), _date(values["until"])
    values["since"] = since.isoformat() if since else ""
    values["until"] = until.isoformat() if until else ""
    query = Filter(values["staff"], values["action"], values["target"], since, until)
    return query, values


async def audit_page(request: Request) -> Response:
    log: AuditLog = request.app.state.audit
    query, values = _filter(request)
    try:
        page = max(1, int(request.query_params.get("page", "1")))
    except ValueError:
        page = 1
    total = log.count(query)
    entries = log.search(query, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    filters = {k: v for k, v in values.items() if v}
    actions = sorted({*ACTIONS, *log.actions_used()}, key=lambda a: ACTIONS.get(a, a))
    context = {
        "entries": entries,
        "values": values,
        "actions": [(a, ACTIONS.get(a, a)) for a in actions],
        "total": total,
        "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
        "query": urlencode(filters),
    }
    return render(request, "panel/audit.html", context)


async def audit_csv(request: Request) -> Response:
    log: AuditLog = request.app.state.audit
    query, _ = _filter(request)
    body = to_csv(log.search(query, limit=CSV_LIMIT))
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="dziennik-zdarzen.csv"'},
    )


routes = [
    route("/panel/audit", audit_page, ADMIN_ONLY, name="panel_audit"),
    route("/panel/audit.csv", audit_csv, ADMIN_ONLY),
]

sections = [
    Section(
        N_("Dziennik zdarzeń"),
        "/panel/audit",
        ADMIN_ONLY,
        N_("Kto, kiedy i skąd: logowania i zmiany w panelu; pobieranie jako CSV."),
    )
]
