"""The panel's session: its cookie, expiry, the database check on every request, and how it
keeps apart from residents' sessions; EBOK_PANEL=off."""

from __future__ import annotations

import base64
import json

import pytest
from starlette.testclient import TestClient

from portal.app import create_app
from tests.builders import make_document, publish_documents
from tests.portal.panel.flows import password_step

PANEL_PATHS = ("/panel", "/panel/", "/panel/login", "/panel/login/code", "/panel/staff")


def _session(client: TestClient) -> dict:
    value = client.cookies.get("ebok_panel")
    return json.loads(base64.b64decode(value.split(".")[0]))


def test_the_cookie_is_scoped_to_the_panel_and_strict(app, client):
    app.state.staff.create("ewa", "office")
    answer = client.get("/panel/login")
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith("ebok_panel=")
    for flag in ("path=/panel;", "httponly", "samesite=strict"):
        assert flag in cookie.lower()
    assert "secure" not in cookie.lower() and "max-age" not in cookie.lower()


def test_the_cookie_is_secure_over_https(settings):
    app = create_app(settings.with_overrides(base_url="https://ebok.example.pl"))
    with TestClient(app, base_url="https://testserver") as client:
        assert "; secure" in client.get("/panel/login").headers["set-cookie"]


def test_the_session_holds_only_ids_times_and_stage(staff_client):
    member = staff_client("office")
    assert set(_session(member)) == {"sid", "sv", "iat", "seen", "stage", "csrf"}
    assert _session(member)["stage"] == "in"


def test_idle_for_15_minutes_signs_out(staff_client, panel_clock):
    member = staff_client("office")
    panel_clock.advance(14 * 60)
    assert member.get("/panel/").status_code == 200  # refreshes `seen`
    panel_clock.advance(14 * 60)
    assert member.get("/panel/").status_code == 200
    panel_clock.advance(15 * 60 + 5)
    answer = member.get("/panel/", follow_redirects=False)
    assert answer.headers["location"] == "/panel/login?expired=1"
    assert "Sesja wygasła" in member.get("/panel/login?expired=1").text
    assert member.get("/panel/", follow_redirects=False).status_code == 303


def test_a_sign_in_lasts_8_hours_at_most(staff_client, panel_clock):
    member = staff_client("office")
    while member.get("/panel/", follow_redirects=False).status_code == 200:
        assert panel_clock.offset <= 8 * 3600
        panel_clock.advance(14 * 60)
    assert panel_clock.offset > 8 * 3600 - 14 * 60


@pytest.mark.parametrize("change", ["disable", "reset"])
def test_disabling_or_resetting_a_member_ends_their_sessions(app, staff_client, change):
    member = staff_client("office")
    assert member.get("/panel/").status_code == 200
    if change == "disable":
        app.state.staff.set_status(member.staff.id, "disabled")
    else:
        app.state.staff.reset(member.staff.login)
    assert member.get("/panel/", follow_redirects=False).headers["location"] == "/panel/login"


def test_a_resident_session_never_opens_the_panel(app, store, signed_in):
    publish_documents(store, [make_document("KW5/12")])
    resident = signed_in("KW5/12", login="jan")
    for path in PANEL_PATHS:
        assert resident.get(path, follow_redirects=False).status_code == 404, path
    page = resident.get("/panel/login")
    assert "Nie znaleziono strony" in page.text and "Panel biura" not in page.text
    assert resident.post("/panel/login", data={}, follow_redirects=False).status_code == 404
    # The resident's own pages still work.
    assert resident.get("/").status_code == 200


def test_a_resident_cookie_is_no_panel_cookie(app, signed_in):
    resident = signed_in("KW5/12", login="jan")
    stranger = TestClient(app)
    stranger.cookies.set("ebok_panel", resident.cookies.get("ebok_session"), path="/panel")
    answer = stranger.get("/panel/", follow_redirects=False)
    assert answer.headers["location"] == "/panel/login"


def test_a_stale_resident_cookie_does_not_block_the_login_page(app, signed_in):
    resident = signed_in("KW5/12", login="jan")
    app.state.accounts.office_reset("jan")  # the resident's cookie goes stale
    assert resident.get("/panel/login").status_code == 200


def test_a_staff_session_is_no_resident_session(staff_client):
    member = staff_client("admin")
    answer = member.get("/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert member.get("/premises/KW5%2F12", follow_redirects=False).status_code == 303


def test_a_staff_member_who_is_also_a_resident_keeps_both(app, store, staff_client, signed_in):
    publish_documents(store, [make_document("KW5/12")])
    member = staff_client("office")
    signed_in("KW5/12", login="jan", client=member)
    assert member.get("/panel/").status_code == 200
    assert member.get("/").url.path.startswith("/premises/")


def test_strangers_are_sent_to_the_login_page(client):
    for path in ("/panel", "/panel/", "/panel/staff", "/panel/audit.csv", "/panel/nothing"):
        answer = client.get(path, follow_redirects=False)
        assert answer.headers["location"] == "/panel/login", path
    assert client.get("/panel/login").status_code == 200


def test_panel_pages_carry_the_security_headers(app, client):
    answer = client.get("/panel/login")
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-frame-options"] == "DENY"


def test_with_the_panel_off_every_panel_path_is_404(settings, store):
    app = create_app(settings.with_overrides(panel=False))
    with TestClient(app) as client:
        for path in PANEL_PATHS:
            assert client.get(path, follow_redirects=False).status_code == 404, path
        assert client.post("/panel/login", data={}).status_code == 404
        assert client.get("/login").status_code == 200
        assert client.get("/", follow_redirects=False).headers["location"] == "/login"
    assert not hasattr(app.state, "staff")


def test_ebok_panel_off_in_the_environment(settings):
    from ebok.settings import Settings

    assert Settings.from_env({"EBOK_PANEL": "off"}).panel is False
    assert Settings.from_env({"EBOK_PANEL": ""}).panel is True
    assert Settings.from_env({}).panel is True


def test_a_half_finished_sign_in_is_not_signed_in(app, client):
    member, one_time = app.state.staff.create("ewa", "admin")
    password_step(client, "ewa", one_time)
    for path in ("/panel/", "/panel/staff", "/panel/audit"):
        assert client.get(path, follow_redirects=False).headers["location"] == "/panel/login"
