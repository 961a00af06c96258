"""The audit log: what is written, the page and its filters, the CSV, append-only, and erasing a
closed account's personal data after the retention period."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from ebok.database import IntegrityError
from portal.accounts.model import utc_now
from portal.panel.audit import ACTIONS, CLI, Actor, AuditLog, audit
from tests.portal.panel.flows import audit_entries, password_step


def test_entries_say_who_when_from_where_what_and_on_what(app, staff_client):
    admin = staff_client("admin", login="szef")
    entry = audit_entries(app, action="sign-in")[-1]
    assert entry.staff_id == admin.staff.id and entry.staff_login == "szef"
    assert entry.client == "testclient"
    assert abs((utc_now() - entry.at).total_seconds()) < 60
    password_step(admin, "szef", "zle-haslo-123")
    failed = audit_entries(app, action="sign-in-failed")[-1]
    assert (failed.staff_login, failed.details) == ("szef", "błędne hasło")


def test_every_action_has_a_label_and_unknown_ones_are_refused(app):
    log: AuditLog = app.state.audit
    assert all(ACTIONS.values())
    with pytest.raises(ValueError):
        log.append("made-up", actor=CLI)


def test_the_log_is_append_only(app, staff_client):
    staff_client("admin")
    conn = app.state.accounts.db()
    with pytest.raises(IntegrityError, match="append-only"):
        conn.execute("DELETE FROM audit_log")
    with pytest.raises(IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_log SET staff_login = 'someone-else'")
    with pytest.raises(IntegrityError, match="append-only"):
        conn.execute("UPDATE audit_log SET at = '2000-01-01T00:00:00.000000Z'")
    assert audit_entries(app)


def _fill(app) -> None:
    log: AuditLog = app.state.audit
    log.append("staff-created", actor=CLI, target_kind="staff", target="ewa")
    log.append("staff-disabled", actor=Actor(1, "szef"), client="10.0.0.7", target="ewa")
    log.append("staff-created", actor=Actor(1, "szef"), target_kind="staff", target="ola")


def test_the_page_filters_by_login_action_target_and_dates(app, staff_client):
    admin = staff_client("admin", login="szef")
    _fill(app)
    page = admin.get("/panel/audit").text
    assert "Utworzenie konta pracownika" in page and "10.0.0.7" in page

    def rows(**query) -> int:
        text = admin.get("/panel/audit", params=query).text
        return text.count('<td data-label="Czas">')

    assert rows(staff="cli") == 1
    assert rows(staff="SZEF", action="staff-created") == 1
    assert rows(target="ew") == 2
    assert rows(target="%") == 0  # LIKE wildcards are plain characters
    today = utc_now().date()
    assert rows(since=(today - timedelta(days=1)).isoformat(), staff="cli") == 1
    assert rows(until=(today - timedelta(days=2)).isoformat()) == 0
    assert rows(since="not-a-date", staff="cli") == 1  # a bad date filters nothing


def test_the_page_pages(app, staff_client, monkeypatch):
    import portal.panel.audit_views

    monkeypatch.setattr(portal.panel.audit_views, "PAGE_SIZE", 2)
    admin = staff_client("admin")
    _fill(app)
    first = admin.get("/panel/audit").text
    assert "strona 1 z" in first and "Starsze" in first
    assert admin.get("/panel/audit", params={"page": "2"}).status_code == 200
    assert admin.get("/panel/audit", params={"page": "x"}).status_code == 200


def test_csv_download_is_excel_friendly_and_injection_safe(app, staff_client):
    admin = staff_client("admin")
    password_step(admin, "=HYPERLINK(\"http://x\")", "zle")  # a login typed by anybody
    _fill(app)
    answer = admin.get("/panel/audit.csv", params={"action": "sign-in-failed"})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    assert answer.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Czas", "Pracownik", "Adres", "Czynność", "Rodzaj obiektu", "Obiekt",
                       "Szczegóły"]  # fmt: skip
    assert len(rows) == 2
    assert rows[1][1].startswith("'=")
    assert rows[1][3] == "Nieudane logowanie"
    assert b"\r\n" in answer.content
    everything = admin.get("/panel/audit.csv").content.decode("utf-8-sig")
    assert "10.0.0.7" in everything


def test_audit_helper_takes_the_signed_in_member(app, staff_client):
    admin = staff_client("admin", login="szef")

    class FakeRequest:
        class state:  # noqa: N801 - shaped like request.state
            staff = admin.staff
            pending = None

        client = None

        def __init__(self, app):
            self.app = app

    audit(FakeRequest(app), "staff-enabled", target_kind="staff", target="ewa")
    entry = audit_entries(app)[-1]
    assert (entry.staff_login, entry.target, entry.client) == ("szef", "ewa", None)


def test_a_closed_accounts_personal_data_leaves_the_log_and_the_event_stays(app, settings):
    accounts = app.state.accounts
    record, _ = accounts.open_account("jan.kowalski", ["KW5/12"], email="jan@example.pl")
    other, _ = accounts.open_account("anna", ["KW5/13"])
    log: AuditLog = app.state.audit
    szef = Actor(None, "szef")
    log.append(
        "staff-enabled",  # any labelled action stands in for the office pages' actions
        actor=szef,
        target_kind="account",
        target="jan.kowalski",
        account_id=record.id,
        details="e-mail jan@example.pl set for jan.kowalski",
    )
    log.append(
        "staff-enabled",
        actor=szef,
        target_kind="premises",
        target="KW5/12",
        account_id=record.id,
        details="unlinked from jan.kowalski",
    )
    log.append("staff-enabled", actor=szef, target_kind="account", target="anna",
               account_id=other.id)  # fmt: skip
    accounts.close_account("jan.kowalski")
    # Within the retention period nothing is erased.
    assert accounts.purge_closed(settings.closed_account_retention_days) == []
    later = utc_now() + timedelta(days=settings.closed_account_retention_days + 1)
    assert accounts.purge_closed(settings.closed_account_retention_days, now=later) == [
        "jan.kowalski"
    ]
    erased = f"konto #{record.id} (usunięte)"
    entries = audit_entries(app)
    assert [(e.target, e.details) for e in entries] == [
        (erased, f"e-mail {erased} set for {erased}"),
        ("KW5/12", f"unlinked from {erased}"),
        ("anna", None),
    ]
    assert all(e.action == "staff-enabled" and e.staff_login == "szef" for e in entries)
    text = "\n".join(f"{e.target} {e.details}" for e in entries)
    assert "jan.kowalski" not in text and "jan@example.pl" not in text
    # Idempotent: nothing left to erase.
    assert accounts.purge_closed(settings.closed_account_retention_days, now=later) == []


def test_an_entry_written_after_erasure_is_erased_on_the_next_purge(app, settings):
    accounts = app.state.accounts
    record, _ = accounts.open_account("jan", ["KW5/12"])
    accounts.close_account("jan")
    later = utc_now() + timedelta(days=settings.closed_account_retention_days + 1)
    accounts.purge_closed(settings.closed_account_retention_days, now=later)
    app.state.audit.append(
        "staff-enabled", actor=CLI, target_kind="account", target="jan", account_id=record.id
    )
    assert accounts.purge_closed(settings.closed_account_retention_days, now=later) == ["jan"]
    assert audit_entries(app)[-1].target == f"konto #{record.id} (usunięte)"
