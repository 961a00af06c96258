"""/panel/staff: an administrator creates, disables, enables and resets staff accounts."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from tests.forms import csrf_token
from tests.portal.panel.flows import audit_entries, enrol_step, password_step, post_form, sign_in


def _one_time_password(html: str) -> str:
    return re.search(r"Hasło jednorazowe: <code[^>]*>([^<]+)</code>", html).group(1)


def test_an_admin_creates_a_member_who_can_then_sign_in(app, staff_client):
    admin = staff_client("admin")
    form = admin.get("/panel/staff/new")
    assert 'name="login"' in form.text and 'name="role"' in form.text
    created = post_form(
        admin,
        "/panel/staff/new",
        {"login": "ksiegowa", "role": "accountant", "email": "k@example.pl"},
    )
    assert created.status_code == 200
    password = _one_time_password(created.text)
    member = app.state.staff.by_login("ksiegowa")
    assert member.role == "accountant" and member.email == "k@example.pl"
    assert member.must_change_password and not member.enrolled
    listing = admin.get("/panel/staff").text
    assert "ksiegowa" in listing and password not in listing  # shown once only
    newcomer = TestClient(app)
    assert password_step(newcomer, "ksiegowa", password).headers["location"] == (
        "/panel/login/password"
    )
    entry = audit_entries(app, action="staff-created")[-1]
    assert (entry.staff_login, entry.target, entry.details) == (
        admin.staff.login,
        "ksiegowa",
        "rola: księgowość",
    )


def test_bad_input_is_refused_with_a_reason(app, staff_client):
    admin = staff_client("admin")
    app.state.staff.create("ewa", "office")
    for data, reason in (
        ({"login": "ewa", "role": "office"}, "zajęty"),
        ({"login": "ola", "role": "boss"}, "rolę"),
        ({"login": "ola", "role": "office", "email": "nie-adres"}, "e-mail"),
        ({"login": "o la", "role": "office"}, "spacji"),
        ({"login": "", "role": "office"}, "pusty"),
    ):
        answer = post_form(admin, "/panel/staff/new", data)
        assert answer.status_code == 400 and reason in answer.text, data
    assert app.state.staff.by_login("ola") is None


def test_disabling_asks_first_then_ends_the_members_sessions(app, staff_client):
    admin = staff_client("admin")
    office = staff_client("office")
    target = office.staff
    confirm = admin.get(f"/panel/staff/{target.id}/disable")
    assert confirm.status_code == 200 and "Zablokować konto" in confirm.text
    assert f'action="/panel/staff/{target.id}/disable"' in confirm.text
    assert app.state.staff.get(target.id).active  # looking is not doing
    done = post_form(admin, f"/panel/staff/{target.id}/disable", {})
    assert done.headers["location"] == "/panel/staff?done=disabled"
    assert not app.state.staff.get(target.id).active
    assert office.get("/panel/", follow_redirects=False).headers["location"] == "/panel/login"
    assert "zablokowane" in admin.get("/panel/staff?done=disabled").text

    page = admin.get("/panel/staff")
    enabled = admin.post(
        f"/panel/staff/{target.id}/enable",
        data={"csrf_token": csrf_token(page.text)},
        follow_redirects=False,
    )
    assert enabled.headers["location"] == "/panel/staff?done=enabled"
    assert app.state.staff.get(target.id).active
    assert [e.action for e in audit_entries(app, target=target.login)][-2:] == [
        "staff-disabled",
        "staff-enabled",
    ]


def test_reset_gives_a_new_one_time_password_and_forgets_the_app(app, staff_client):
    admin = staff_client("admin")
    office = staff_client("office")
    target = office.staff
    assert "Wydać nowe hasło" in admin.get(f"/panel/staff/{target.id}/reset").text
    answer = post_form(admin, f"/panel/staff/{target.id}/reset", {})
    password = _one_time_password(answer.text)
    member = app.state.staff.get(target.id)
    assert member.must_change_password and member.totp_secret is None
    assert office.get("/panel/", follow_redirects=False).status_code == 303
    again = TestClient(app)
    assert password_step(again, target.login, office.password).status_code == 400
    assert password_step(again, target.login, password).headers["location"] == (
        "/panel/login/password"
    )
    assert audit_entries(app, action="staff-reset")[-1].target == target.login


def test_an_admin_cannot_disable_or_reset_themselves(app, staff_client):
    admin = staff_client("admin")
    me = admin.staff.id
    for action in ("disable", "reset"):
        answer = post_form(admin, f"/panel/staff/{me}/{action}", {})
        assert answer.status_code == 400 and "własnego konta" in answer.text
    assert app.state.staff.get(me).active
    assert admin.get("/panel/").status_code == 200


def test_unknown_members_and_actions_are_404(staff_client):
    admin = staff_client("admin")
    assert admin.get("/panel/staff/999/disable").status_code == 404
    assert admin.get(f"/panel/staff/{admin.staff.id}/delete").status_code == 404
    assert admin.get(f"/panel/staff/{admin.staff.id}/enable").status_code == 404


def test_a_new_member_signs_in_through_every_step(app, staff_client, panel_clock):
    admin = staff_client("admin")
    created = post_form(admin, "/panel/staff/new", {"login": "nowa", "role": "office"})
    password = _one_time_password(created.text)
    client = TestClient(app)
    password_step(client, "nowa", password)
    post_form(
        client,
        "/panel/login/password",
        {"new_password": "Nowe-haslo-biura-1", "new_password_repeat": "Nowe-haslo-biura-1"},
    )
    secret, done = enrol_step(client)
    assert done.headers["location"] == "/panel/"
    panel_clock.advance(30)
    later = TestClient(app)
    assert sign_in(later, "nowa", secret, "Nowe-haslo-biura-1").headers["location"] == "/panel/"
