"""Going through the panel's sign-in pages the way a member does, for the panel's tests and for
the office and accounting pages' tests built on them (fixtures in conftest.py)."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from portal.panel import totp
from portal.panel.audit import Entry, Filter
from tests.forms import csrf_token

STAFF_PASSWORD = "Biuro-zarzadcy-2026"


def post_form(client: TestClient, page: str, data: dict, action: str | None = None):
    """GET `page`, then POST `data` with the page's CSRF token to `action` (default: `page`);
    the answer is not followed."""
    token = csrf_token(client.get(page).text)
    return client.post(action or page, data={**data, "csrf_token": token}, follow_redirects=False)


def password_step(client: TestClient, login: str, password: str):
    return post_form(client, "/panel/login", {"login": login, "password": password})


def new_password_step(client: TestClient, new: str = STAFF_PASSWORD):
    data = {"new_password": new, "new_password_repeat": new}
    return post_form(client, "/panel/login/password", data)


def shown_secret(html: str) -> str:
    """The TOTP secret the enrolment page shows as text."""
    return re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', html).group(1)


def enrol_step(client: TestClient, at: float | None = None) -> tuple[str, object]:
    """Read the secret from the enrolment page and confirm it with the code for `at`
    (default: now). Returns (secret, the answer)."""
    page = client.get("/panel/login/enrol")
    secret = shown_secret(page.text)
    code = totp.code_at(secret, at)
    response = client.post(
        "/panel/login/enrol",
        data={"code": code, "csrf_token": csrf_token(page.text)},
        follow_redirects=False,
    )
    return secret, response


def wrong_code(secret: str) -> str:
    """Six digits that are no valid code of `secret` right now."""
    return next(c for c in ("000000", "111111", "222222") if totp.matching_step(secret, c) is None)


def code_step(client: TestClient, code: str):
    return post_form(client, "/panel/login/code", {"code": code})


def sign_in(client: TestClient, login: str, secret: str, password: str = STAFF_PASSWORD, at=None):
    """A member who has set a password and enrolled signs in: password, then the code for
    `at` (default: now; a code works once, so a second sign-in in the same 30 s needs a later
    time). Returns the answer to the code."""
    first = password_step(client, login, password)
    assert first.headers["location"] == "/panel/login/code", first.text
    return code_step(client, totp.code_at(secret, at))


def audit_entries(app, **filters) -> list[Entry]:
    """The audit log, oldest first; `filters` as portal.panel.audit.Filter takes them."""
    return list(reversed(app.state.audit.search(Filter(**filters), limit=10_000)))
