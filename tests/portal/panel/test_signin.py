"""Signing in to the panel: password, forced change, TOTP enrolment, codes (once each),
throttling, logout."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from portal.accounts.throttle import Throttle
from portal.panel import totp
from tests.forms import csrf_token
from tests.portal.panel.flows import (
    STAFF_PASSWORD,
    audit_entries,
    code_step,
    enrol_step,
    new_password_step,
    password_step,
    post_form,
    shown_secret,
    sign_in,
    wrong_code,
)


def test_first_sign_in_sets_a_password_then_enrols_an_app(app, client):
    member, one_time = app.state.staff.create("ewa", "office")
    page = client.get("/panel/login")
    assert page.status_code == 200
    assert 'name="login"' in page.text and 'name="password"' in page.text
    assert "Panel biura zarządcy" in page.text

    answer = password_step(client, "ewa", one_time)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/panel/login/password"
    # Half-way through, nothing but the next step opens.
    assert client.get("/panel/", follow_redirects=False).headers["location"] == "/panel/login"
    assert client.get("/panel/login/code", follow_redirects=False).headers["location"] == (
        "/panel/login/password"
    )

    page = client.get("/panel/login/password")
    assert 'name="new_password"' in page.text and 'name="new_password_repeat"' in page.text
    weak = new_password_step(client, "ewa")
    assert weak.status_code == 400 and "Nie zmieniono hasła" in weak.text
    same = new_password_step(client, one_time)
    assert same.status_code == 400
    assert new_password_step(client).headers["location"] == "/panel/login/enrol"

    page = client.get("/panel/login/enrol")
    secret = shown_secret(page.text)
    assert len(secret) == 32
    assert re.search(r'<svg [^>]*class="totp-qr"', page.text)
    assert "style=" not in page.text and "<script" not in page.text
    assert client.get("/panel/login/enrol").text.count(secret) >= 1  # a reload: the same secret
    assert app.state.staff.get(member.id).totp_secret is None  # not until a code confirms it

    wrong = post_form(client, "/panel/login/enrol", {"code": wrong_code(secret)})
    assert wrong.status_code == 400 and "Nieprawidłowy kod" in wrong.text
    assert post_form(client, "/panel/login/enrol", {"code": "12345"}).status_code == 400
    _, done = enrol_step(client)
    assert done.headers["location"] == "/panel/"
    home = client.get("/panel/")
    assert home.status_code == 200 and "ewa" in home.text
    enrolled = app.state.staff.get(member.id)
    assert enrolled.totp_secret == secret and enrolled.totp_pending_secret is None
    assert not enrolled.must_change_password and enrolled.last_login_at is not None
    actions = [e.action for e in audit_entries(app, staff="ewa")]
    failed = ["sign-in-failed"] * 2
    assert actions == ["password-changed", *failed, "totp-enrolled", "sign-in"]


def test_later_sign_ins_ask_for_the_code_and_each_code_works_once(
    app, staff_client, panel_clock
):
    member = staff_client("office", login="ola")
    secret = member.totp_secret
    panel_clock.advance(30)
    first = TestClient(app)
    answer = sign_in(first, "ola", secret)
    assert answer.headers["location"] == "/panel/"
    assert first.get("/panel/").status_code == 200

    # The same code again (a replay, or a second device in the same 30 s): refused.
    second = TestClient(app)
    assert password_step(second, "ola", STAFF_PASSWORD).headers["location"] == (
        "/panel/login/code"
    )
    replay = code_step(second, totp.code_at(secret))
    assert replay.status_code == 400 and "już użyty" in replay.text
    # An older code, still inside the window, is no good either: steps only move forward.
    older = code_step(second, totp.code_at(secret, panel_clock.now() - 30))
    assert older.status_code == 400
    assert second.get("/panel/", follow_redirects=False).status_code == 303
    panel_clock.advance(30)
    assert code_step(second, totp.code_at(secret)).headers["location"] == "/panel/"
    reasons = [e.details for e in audit_entries(app, staff="ola", action="sign-in-failed")]
    assert reasons == ["kod już użyty", "kod już użyty"]


def test_codes_one_step_apart_are_accepted_two_are_not(app, staff_client, panel_clock):
    member = staff_client("office")
    secret = member.totp_secret
    panel_clock.advance(120)
    client = TestClient(app)
    password_step(client, member.staff.login, STAFF_PASSWORD)
    late = code_step(client, totp.code_at(secret, panel_clock.now() - 60))
    assert late.status_code == 400
    slow_phone = code_step(client, totp.code_at(secret, panel_clock.now() - 30))
    assert slow_phone.headers["location"] == "/panel/"


def test_unknown_login_and_wrong_password_get_the_same_answer(app, client):
    app.state.staff.create("ewa", "office")
    wrong = password_step(client, "ewa", "not-the-password")
    unknown = password_step(client, "nobody", "not-the-password")
    assert wrong.status_code == unknown.status_code == 400
    assert "Nieprawidłowy login lub hasło." in wrong.text
    assert "Nieprawidłowy login lub hasło." in unknown.text
    assert [e.details for e in audit_entries(app, action="sign-in-failed")] == [
        "błędne hasło",
        "nieznany login",
    ]


def test_a_disabled_member_cannot_sign_in(app, client):
    member, one_time = app.state.staff.create("ewa", "office")
    app.state.staff.set_status(member.id, "disabled")
    answer = password_step(client, "ewa", one_time)
    assert answer.status_code == 403 and "zablokowane" in answer.text


def test_failed_passwords_are_throttled_per_login(app, client):
    fake = [1000.0]
    app.state.panel_throttle = Throttle(clock=lambda: fake[0])
    member, one_time = app.state.staff.create("ewa", "office")
    for _ in range(4):
        assert password_step(client, "ewa", "zle-haslo-123").status_code == 400
    refused = password_step(client, "ewa", one_time)  # even the right one, while waiting
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert "Spróbuj ponownie za" in refused.text
    fake[0] += 2
    assert password_step(client, "ewa", one_time).status_code == 303
    # A resident with the same login is another key: the panel's throttle is its own.
    assert app.state.throttle.failures("ewa") == {"login": 0}


def test_failed_codes_are_throttled_and_a_password_does_not_clear_them(app, staff_client):
    fake = [1000.0]
    member = staff_client("office", login="ola")
    app.state.panel_throttle = Throttle(clock=lambda: fake[0])
    client = TestClient(app)
    password_step(client, "ola", STAFF_PASSWORD)
    wrong = wrong_code(member.totp_secret)
    for _ in range(4):
        assert code_step(client, wrong).status_code == 400
    # Signing in with the password again does not reset the count of wrong codes.
    password_step(client, "ola", STAFF_PASSWORD)
    refused = code_step(client, wrong)
    assert refused.status_code == 429 and "retry-after" in refused.headers


def test_a_pending_sign_in_expires(app, client, panel_clock):
    member, one_time = app.state.staff.create("ewa", "office")
    password_step(client, "ewa", one_time)
    panel_clock.advance(11 * 60)
    answer = client.get("/panel/login/password", follow_redirects=False)
    assert answer.headers["location"] == "/panel/login"


def test_logout_ends_the_session_and_every_copy_of_its_cookie(app, staff_client):
    member = staff_client("office")
    copy = TestClient(app)
    copy.cookies.set("ebok_panel", member.cookies.get("ebok_panel"), path="/panel")
    assert copy.get("/panel/").status_code == 200
    page = member.get("/panel/")
    answer = member.post(
        "/panel/logout", data={"csrf_token": csrf_token(page.text)}, follow_redirects=False
    )
    assert answer.headers["location"] == "/panel/login?logged_out=1"
    assert "Wylogowano" in member.get("/panel/login?logged_out=1").text
    assert copy.get("/panel/", follow_redirects=False).headers["location"] == "/panel/login"
    assert [e.action for e in audit_entries(app)][-1] == "sign-out"


def test_a_pending_sign_in_can_be_abandoned(app, client):
    member, one_time = app.state.staff.create("ewa", "office")
    password_step(client, "ewa", one_time)
    page = client.get("/panel/login/password")
    assert "Przerwij logowanie" in page.text
    answer = client.post(
        "/panel/logout", data={"csrf_token": csrf_token(page.text)}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert client.get("/panel/login/password", follow_redirects=False).headers["location"] == (
        "/panel/login"
    )


def test_posts_need_the_csrf_token(app, client):
    app.state.staff.create("ewa", "office")
    client.get("/panel/login")
    refused = client.post(
        "/panel/login", data={"login": "ewa", "password": "x"}, follow_redirects=False
    )
    assert refused.status_code == 403
