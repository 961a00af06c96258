"""`ebok demo-setup` also makes the panel's demo administrator (scripts/server prints it)."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from ebok.demo_setup import DEMO_STAFF_LOGIN
from portal.app import create_app
from tests.builders import make_document, publish_documents
from tests.cli import ebok
from tests.portal.panel.flows import enrol_step, new_password_step, password_step


def _staff_password(out: str) -> str:
    part = out.split("Demo staff account", 1)[1]
    return re.search(r"one-time password: (\S+)", part).group(1)


def test_demo_setup_prints_a_working_staff_login(settings, store, capsys):
    publish_documents(store, [make_document("KW5/12")])
    assert ebok(settings, "demo-setup") == 0
    out = capsys.readouterr().out
    assert f"login: {DEMO_STAFF_LOGIN}" in out and "/panel/login" in out
    first = _staff_password(out)
    # Not used yet: the next run prints a fresh one (the old one was shown only once).
    assert ebok(settings, "demo-setup") == 0
    second = _staff_password(capsys.readouterr().out)
    assert second != first
    app = create_app(settings)
    with TestClient(app) as client:
        assert password_step(client, DEMO_STAFF_LOGIN, first).status_code == 400
        assert password_step(client, DEMO_STAFF_LOGIN, second).status_code == 303
        new_password_step(client)
        enrol_step(client)
        assert "Pracownicy" in client.get("/panel/").text  # an administrator
    # Once set up, it is left alone.
    assert ebok(settings, "demo-setup") == 0
    out = capsys.readouterr().out
    assert "is set up" in out and f"ebok staff reset {DEMO_STAFF_LOGIN}" in out


def test_no_demo_staff_without_the_panel(settings, store, capsys, monkeypatch):
    publish_documents(store, [make_document("KW5/12")])
    monkeypatch.setenv("EBOK_PANEL", "off")
    assert ebok(settings, "demo-setup") == 0
    assert DEMO_STAFF_LOGIN not in capsys.readouterr().out
