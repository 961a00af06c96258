"""Roles × routes: every panel route answers 404 to a role that may not use it, on the server.

Adding a page? Add a row to ROUTES: (method, path, the roles that may use it, e.g. OFFICE_WORK
or ACCOUNTING from portal.panel.roles). `{target}` in a path is the id of a member made for the
test. A GET a role may use must answer 200; a POST it
may use anything but 404 (the test sends an empty form). A route missing from the table fails
test_every_panel_route_is_in_the_table.
"""

from __future__ import annotations

import pytest
from starlette.routing import Match, Route

from portal.panel import auth
from portal.panel.roles import ACCOUNTING, ADMIN_ONLY, EVERYONE, OFFICE_WORK, ROLES
from tests.builders import make_document
from tests.forms import csrf_token
from tests.portal.premises.test_community_pages import A_PDF, document, publish

# a community document of the resident account's premises, for the preview's download
DOCUMENT = document("WM-KW5", "Uchwała nr 1/2026", A_PDF, "2026-03-25")
ROUTES: list[tuple[str, str, frozenset[str]]] = [
    ("GET", "/panel/", EVERYONE),
    # staff management
    ("GET", "/panel/staff", ADMIN_ONLY),
    ("GET", "/panel/staff/new", ADMIN_ONLY),
    ("POST", "/panel/staff/new", ADMIN_ONLY),
    ("GET", "/panel/staff/{target}/disable", ADMIN_ONLY),
    ("POST", "/panel/staff/{target}/disable", ADMIN_ONLY),
    ("GET", "/panel/staff/{target}/reset", ADMIN_ONLY),
    ("POST", "/panel/staff/{target}/reset", ADMIN_ONLY),
    ("POST", "/panel/staff/{target}/enable", ADMIN_ONLY),
    # audit log
    ("GET", "/panel/audit", ADMIN_ONLY),
    ("GET", "/panel/audit.csv", ADMIN_ONLY),
    # resident accounts (the office); /panel/accounts/1 is the account `members` opens
    ("GET", "/panel/accounts", OFFICE_WORK),
    ("GET", "/panel/accounts/new", OFFICE_WORK),
    ("POST", "/panel/accounts/new", OFFICE_WORK),
    ("POST", "/panel/accounts/letter", OFFICE_WORK),
    ("GET", "/panel/accounts/1", OFFICE_WORK),
    ("POST", "/panel/accounts/1/link", OFFICE_WORK),
    ("POST", "/panel/accounts/1/email", OFFICE_WORK),
    ("POST", "/panel/accounts/1/enable", OFFICE_WORK),
    ("GET", "/panel/accounts/1/unlink", OFFICE_WORK),
    ("POST", "/panel/accounts/1/unlink", OFFICE_WORK),
    ("GET", "/panel/accounts/1/disable", OFFICE_WORK),
    ("POST", "/panel/accounts/1/disable", OFFICE_WORK),
    ("GET", "/panel/accounts/1/reset", OFFICE_WORK),
    ("POST", "/panel/accounts/1/reset", OFFICE_WORK),
    ("GET", "/panel/accounts/1/close", OFFICE_WORK),
    ("POST", "/panel/accounts/1/close", OFFICE_WORK),
    ("GET", "/panel/accounts/1/preview", OFFICE_WORK),
    ("GET", "/panel/accounts/1/preview/premises/KW5%2F12", OFFICE_WORK),
    ("GET", "/panel/accounts/1/preview/premises/KW5%2F12/ledger", OFFICE_WORK),
    ("GET", "/panel/accounts/1/preview/premises/KW5%2F12/fees", OFFICE_WORK),
    ("GET", "/panel/accounts/1/preview/premises/KW5%2F12/allowances", OFFICE_WORK),
    ("GET", "/panel/accounts/1/preview/premises/KW5%2F12/readings", OFFICE_WORK),
    ("GET", "/panel/accounts/1/preview/documents", OFFICE_WORK),
    ("GET", f"/panel/accounts/1/preview/documents/{DOCUMENT['document_id']}", OFFICE_WORK),
    # imports and generations (accounting); the test app has no import service, so the import
    # pages say so (200) and their POSTs answer 503
    ("GET", "/panel/imports", ACCOUNTING),
    ("POST", "/panel/imports", ACCOUNTING),
    ("GET", "/panel/imports/20261130T120000000000Z-abcdef", ACCOUNTING),
    ("GET", "/panel/imports/20261130T120000000000Z-abcdef/retry", ACCOUNTING),
    ("POST", "/panel/imports/20261130T120000000000Z-abcdef/retry", ACCOUNTING),
    ("GET", "/panel/generations", ACCOUNTING),
    ("GET", "/panel/generations/rollback", ACCOUNTING),
    ("POST", "/panel/generations/rollback", ACCOUNTING),
]

# The sign-in pages: no role needed (they check the sign-in's stage instead).
SIGN_IN_ROUTES = {(m, r.path) for r in auth.routes for m in r.methods if m != "HEAD"}


@pytest.fixture
def members(app, staff_client):
    """A signed-in client per role, and a member to act on."""
    clients = {role: staff_client(role) for role in ROLES}
    target, _ = app.state.staff.create("cel", "office")
    # a resident account (id 1) on two published premises, for the office's rows
    publish(
        app.state.store,
        [make_document("KW5/12"), make_document("KW5/13")],
        documents=[DOCUMENT],
        files={DOCUMENT["document_id"]: A_PDF},
    )
    app.state.accounts.open_account("mieszkaniec", ["KW5/12", "KW5/13"])
    return clients, target


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reaches_exactly_its_routes(members, role):
    clients, target = members
    client = clients[role]
    token = csrf_token(client.get("/panel/").text)
    for method, path, allowed in ROUTES:
        url = path.format(target=target.id)
        if method == "GET":
            answer = client.get(url, follow_redirects=False)
            expected = 200 if role in allowed else 404
            assert answer.status_code == expected, (role, method, url)
        else:
            answer = client.post(url, data={"csrf_token": token}, follow_redirects=False)
            if role in allowed:
                assert answer.status_code != 404, (role, method, url)
            else:
                assert answer.status_code == 404, (role, method, url)


def test_every_panel_route_is_in_the_table(app):
    rows = [(m, p.format(target=1)) for m, p, _ in ROUTES]
    for route in app.panel.routes:
        assert isinstance(route, Route)
        for method in route.methods - {"HEAD"}:
            if (method, route.path) in SIGN_IN_ROUTES:
                continue
            covered = any(
                m == method
                and route.matches({"type": "http", "path": p, "method": m})[0] == Match.FULL
                for m, p in rows
            )
            assert covered, f"{method} {route.path}: add it to ROUTES in {__file__}"


def test_every_role_checked_route_names_its_roles(app):
    for route in app.panel.routes:
        if any((m, route.path) in SIGN_IN_ROUTES for m in route.methods):
            continue
        assert getattr(route.endpoint, "roles", None), f"{route.path} was not made by roles.route"


def test_the_home_page_links_only_what_the_role_may_use(members):
    clients, _ = members
    admin = clients["admin"].get("/panel/").text
    assert 'href="/panel/staff"' in admin and 'href="/panel/audit"' in admin
    for role in ("office", "accountant"):
        page = clients[role].get("/panel/").text
        assert 'href="/panel/staff"' not in page and 'href="/panel/audit"' not in page


def test_a_forbidden_page_looks_like_a_missing_one(members):
    clients, _ = members
    office = clients["office"]
    forbidden = office.get("/panel/staff")
    missing = office.get("/panel/no-such-page")
    assert forbidden.status_code == missing.status_code == 404
    assert forbidden.text == missing.text
    assert "Panel biura zarządcy" in forbidden.text  # a member sees the panel's own 404 page
