"""Fixtures for the panel's tests, and for the office and accounting pages built on the panel.

    staff_client("office")          a TestClient signed in as a new `office` member, through the
                                    real pages: one-time password, own password, TOTP enrolment
                                    (pyotp codes). `.staff` is the member, `.totp_secret` its
                                    secret, `.password` its password.
    staff_client("admin", login="ewa", email="ewa@example.pl")
    panel_clock                     moves the clock of panel sessions and of TOTP codes:
                                    `panel_clock.advance(16 * 60)`

Helpers for going through the pages yourself (sign_in, post_form, audit_entries…) are in
tests/portal/panel/flows.py.
"""

from __future__ import annotations

import itertools

import pytest
from starlette.testclient import TestClient

import portal.panel.session
import portal.panel.totp
from tests.portal.panel.flows import (
    STAFF_PASSWORD,
    enrol_step,
    new_password_step,
    password_step,
)


@pytest.fixture
def staff_client(app):
    clients: list[TestClient] = []
    numbers = itertools.count(1)

    def make(role: str = "admin", *, login: str | None = None, email: str | None = None):
        login = login or f"{role}{next(numbers)}"
        member, one_time = app.state.staff.create(login, role, email=email)
        client = TestClient(app)
        clients.append(client)
        assert password_step(client, login, one_time).headers["location"] == (
            "/panel/login/password"
        )
        assert new_password_step(client).headers["location"] == "/panel/login/enrol"
        secret, response = enrol_step(client)
        assert response.headers["location"] == "/panel/", response.text
        client.staff = app.state.staff.get(member.id)
        client.totp_secret = secret
        client.password = STAFF_PASSWORD
        return client

    yield make
    for client in clients:
        client.close()


class PanelClock:
    """Now plus an offset, for panel sessions and TOTP codes alike."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.offset = 0.0
        self.start = portal.panel.totp.now()
        monkeypatch.setattr(portal.panel.totp, "now", lambda: self.start + self.offset)
        monkeypatch.setattr(portal.panel.session, "now", lambda: int(self.start + self.offset))

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def now(self) -> float:
        return self.start + self.offset


@pytest.fixture
def panel_clock(monkeypatch) -> PanelClock:
    return PanelClock(monkeypatch)

