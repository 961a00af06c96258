"""`ebok staff …`: create, list, disable, enable, reset; each change in the audit log as `cli`."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from portal.accounts.service import Accounts
from portal.app import create_app
from portal.panel.staff import Staff
from tests.cli import ebok, one_time_password
from tests.portal.panel.flows import audit_entries, enrol_step, new_password_step, password_step


@pytest.fixture
def staff(settings):
    accounts = Accounts(settings.accounts_database)
    yield Staff(accounts.db)
    accounts.close()


def test_create_prints_a_one_time_password_that_signs_in(settings, staff, capsys):
    assert ebok(settings, "staff", "create", "--login", "ewa", "--role", "office",
                "--email", "ewa@example.pl") == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "login: ewa" in out
    password = one_time_password(out)
    member = staff.by_login("ewa")
    assert (member.role, member.email, member.must_change_password) == (
        "office",
        "ewa@example.pl",
        True,
    )
    app = create_app(settings)
    with TestClient(app) as client:
        assert password_step(client, "ewa", password).headers["location"] == (
            "/panel/login/password"
        )
        entry = audit_entries(app, action="staff-created")[-1]
    assert (entry.staff_login, entry.staff_id, entry.target) == ("cli", None, "ewa")


def test_refusals_are_one_line_errors(settings, capsys):
    assert ebok(settings, "staff", "create", "--login", "ewa", "--role", "office") == 0
    assert ebok(settings, "staff", "create", "--login", "EWA", "--role", "admin") == 1
    assert "already taken" in capsys.readouterr().err
    assert ebok(settings, "staff", "disable", "nobody") == 1
    assert "no staff member" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        ebok(settings, "staff", "create", "--login", "ola", "--role", "boss")


def test_list_disable_enable(settings, staff, capsys):
    ebok(settings, "staff", "create", "--login", "ewa", "--role", "accountant")
    capsys.readouterr()
    assert ebok(settings, "staff", "list") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split("\t") == ["login", "role", "status", "email", "last sign-in"]
    assert lines[1].split("\t")[:3] == ["ewa", "accountant", "active (one-time password)"]
    assert ebok(settings, "staff", "disable", "ewa") == 0
    assert "disabled" in capsys.readouterr().out
    assert not staff.by_login("ewa").active
    assert ebok(settings, "staff", "disable", "ewa") == 0
    assert "already disabled" in capsys.readouterr().out
    assert ebok(settings, "staff", "enable", "ewa") == 0
    assert staff.by_login("ewa").active
    app = create_app(settings)
    actions = [e.action for e in audit_entries(app, staff="cli")]
    assert actions == ["staff-created", "staff-disabled", "staff-enabled"]


def test_reset_issues_a_new_password_and_the_app_is_enrolled_again(settings, staff, capsys):
    ebok(settings, "staff", "create", "--login", "ewa", "--role", "office")
    first = one_time_password(capsys.readouterr().out)
    app = create_app(settings)
    with TestClient(app) as client:
        password_step(client, "ewa", first)
        new_password_step(client)
        enrol_step(client)
        assert client.get("/panel/").status_code == 200
        assert staff.by_login("ewa").enrolled

        assert ebok(settings, "staff", "reset", "ewa") == 0
        second = one_time_password(capsys.readouterr().out)
        member = staff.by_login("ewa")
        assert member.must_change_password and not member.enrolled
        assert client.get("/panel/", follow_redirects=False).status_code == 303
    with TestClient(app) as again:
        assert password_step(again, "ewa", second).headers["location"] == (
            "/panel/login/password"
        )
        new_password_step(again, "Inne-haslo-do-biura")
        assert again.get("/panel/login/enrol").status_code == 200
    assert audit_entries(app, staff="cli")[-1].action == "staff-reset"
