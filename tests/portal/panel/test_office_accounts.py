"""One resident account in the panel (portal.panel.account_actions): what the office sees, and
each action with its confirmation and its audit entry."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import quote

import pytest

from portal.accounts.service import CLOSED, DISABLED, utc_now
from portal.web.format import LOCAL_ZONE
from tests.cli import NEW_PASSWORD, change_password, sign_in
from tests.forms import csrf_token
from tests.portal.panel.flows import audit_entries, post_form
from tests.portal.panel.test_office import (
    download,
    one_time_password,
    pdf_text,
    publish,
)


@pytest.fixture
def resident(app):
    """Published premises and an account `jan` on KW5/12 whose resident has set a password:
    (record, a signed-in resident client)."""
    publish(app.state.store)
    record, password = app.state.accounts.open_account(
        "jan", ["KW5/12"], email="jan@example.pl", application_number="W/1/2026"
    )
    client, _ = sign_in(app, "jan", password)
    assert change_password(client, password, NEW_PASSWORD).status_code == 303
    return app.state.accounts.get(record.id), client


def last(app, action: str):
    return audit_entries(app, action=action)[-1]


def test_the_account_page_shows_premises_state_and_sign_ins(app, staff_client, resident):
    record, _ = resident
    app.state.accounts.link(record.id, "GONE/1")  # linked, but not in the published data
    page = staff_client("office").get(f"/panel/accounts/{record.id}")
    assert page.status_code == 200
    text = page.text
    assert "Konto mieszkańca jan" in text
    assert "ul. Kwiatowa 5/12, 30-001 Kraków" in text and "Łucja Żółkiewska" in text
    assert "jan@example.pl" in text and "aktywne" in text and "nr W/1/2026" in text
    assert "GONE/1" in text and "nie ma go w opublikowanych danych" in text
    assert "Ostatnie logowanie" in text and "udane" in text and "testclient" in text
    assert f'href="/panel/accounts/{record.id}/preview/premises/KW5%2F12"' in text
    assert f'href="/panel/accounts/{record.id}/unlink?premises=KW5%2F12"' in text
    # every form on the page posts with the CSRF token
    forms = re.findall(r"<form[^>]*>.*?</form>", text, re.S)
    posts = [f for f in forms if 'method="post"' in f]
    assert posts and all('name="csrf_token"' in f for f in posts)
    assert staff_client("office").get("/panel/accounts/999").status_code == 404


def test_linking_checks_the_published_data(app, staff_client, resident):
    record, client = resident
    office = staff_client("office")
    page = f"/panel/accounts/{record.id}"
    refused = post_form(office, page, {"premises": "KW5/13\nNIE/MA"}, f"{page}/link")
    assert refused.status_code == 400 and "NIE/MA" in refused.text
    assert app.state.accounts.get(record.id).premises_ids == ("KW5/12",)

    done = post_form(office, page, {"premises": "KW5/13\nLI35/1"}, f"{page}/link")
    assert done.headers["location"] == f"{page}?done=linked"
    assert app.state.accounts.get(record.id).premises_ids == ("KW5/12", "KW5/13", "LI35/1")
    assert client.get("/premises/KW5%2F13").status_code == 200
    entry = last(app, "account-linked")
    assert (entry.target, entry.account_id, entry.details) == (
        "jan",
        record.id,
        "lokale: KW5/13, LI35/1",
    )
    assert "Lokale zostały przypisane" in office.get(done.headers["location"]).text


def test_unlinking_asks_first(app, staff_client, resident):
    record, client = resident
    app.state.accounts.link(record.id, "KW5/13")
    office = staff_client("office")
    url = f"/panel/accounts/{record.id}/unlink"
    confirm = office.get(url, params={"premises": "KW5/13"})
    assert confirm.status_code == 200 and "Odłączyć lokal od konta jan?" in confirm.text
    assert re.search(r'value="KW5/13" checked', confirm.text)
    assert "KW5/13" in app.state.accounts.get(record.id).premises_ids  # looking is not doing

    token = csrf_token(confirm.text)
    unconfirmed = office.post(url, data={"csrf_token": token, "premises": "KW5/13"})
    assert unconfirmed.status_code == 200 and "Odłączyć lokal" in unconfirmed.text
    assert "KW5/13" in app.state.accounts.get(record.id).premises_ids

    wrong = {"csrf_token": token, "premises": "LI35/1", "confirmed": "1"}
    assert office.post(url, data=wrong).status_code == 400

    done = office.post(
        url,
        data={"csrf_token": token, "premises": "KW5/13", "confirmed": "1"},
        follow_redirects=False,
    )
    assert done.headers["location"] == f"/panel/accounts/{record.id}?done=unlinked"
    assert app.state.accounts.get(record.id).premises_ids == ("KW5/12",)
    assert client.get("/premises/KW5%2F13").status_code == 404
    assert last(app, "account-unlinked").details == "lokal: KW5/13"


def test_setting_and_removing_the_email(app, staff_client, resident):
    record, _ = resident
    office = staff_client("office")
    page = f"/panel/accounts/{record.id}"
    bad = post_form(office, page, {"email": "nie-adres"}, f"{page}/email")
    assert bad.status_code == 400 and "poprawny adres e-mail" in bad.text
    done = post_form(office, page, {"email": " nowy@example.pl "}, f"{page}/email")
    assert done.headers["location"] == f"{page}?done=email-set"
    assert app.state.accounts.get(record.id).email == "nowy@example.pl"
    assert last(app, "account-email").details == "e-mail: nowy@example.pl (był: jan@example.pl)"
    done = post_form(office, page, {"email": ""}, f"{page}/email")
    assert done.headers["location"] == f"{page}?done=email-removed"
    assert app.state.accounts.get(record.id).email is None
    assert last(app, "account-email").details == "e-mail usunięty (był: nowy@example.pl)"
    assert len(audit_entries(app, action="account-email")) == 2


def test_disabling_asks_first_ends_the_residents_sessions_and_enabling_undoes_it(
    app, staff_client, resident
):
    record, client = resident
    office = staff_client("office")
    url = f"/panel/accounts/{record.id}/disable"
    confirm = office.get(url)
    assert confirm.status_code == 200 and "Zablokować konto jan?" in confirm.text
    assert 'name="confirmed"' in confirm.text
    assert app.state.accounts.get(record.id).status != DISABLED
    assert office.post(url, data={"csrf_token": csrf_token(confirm.text)}).status_code == 200
    assert app.state.accounts.get(record.id).status != DISABLED  # no confirmation, no action

    done = post_form(office, url, {"confirmed": "1"})
    assert done.headers["location"] == f"/panel/accounts/{record.id}?done=disabled"
    assert app.state.accounts.get(record.id).status == DISABLED
    assert client.get("/premises/KW5%2F12", follow_redirects=False).status_code == 303
    assert sign_in(app, "jan", NEW_PASSWORD)[1].status_code == 403
    assert last(app, "account-disabled").account_id == record.id

    page = office.get(f"/panel/accounts/{record.id}").text
    assert "zablokowane" in page and "Odblokuj konto" in page
    enabled = post_form(office, f"/panel/accounts/{record.id}", {}, f"{url[:-8]}/enable")
    assert enabled.headers["location"] == f"/panel/accounts/{record.id}?done=enabled"
    assert sign_in(app, "jan", NEW_PASSWORD)[1].status_code == 303
    assert last(app, "account-enabled").target == "jan"


def test_an_office_reset_gives_a_new_password_and_a_new_letter(
    app, settings, staff_client, resident
):
    record, client = resident
    office = staff_client("office")
    url = f"/panel/accounts/{record.id}/reset"
    confirm = office.get(url)
    assert confirm.status_code == 200 and "Wydać nowe hasło jednorazowe dla jan?" in confirm.text
    assert app.state.accounts.get(record.id).password_hash == record.password_hash

    done = post_form(office, url, {"confirmed": "1"})
    assert done.status_code == 200 and "Nowe hasło jednorazowe" in done.text
    password = one_time_password(done.text)
    assert client.get("/premises/KW5%2F12", follow_redirects=False).status_code == 303
    assert sign_in(app, "jan", NEW_PASSWORD)[1].status_code == 400  # the old one is gone
    assert sign_in(app, "jan", password)[1].headers["location"].startswith("/password/change")

    letter = download(office, done.text)
    assert letter.headers["content-disposition"] == 'attachment; filename="nowe-haslo-jan.pdf"'
    text = pdf_text(letter.content)
    assert "Nowe hasło" in text and password in text
    entry = last(app, "account-reset")
    assert (entry.target, entry.details) == ("jan", "powiadomienie wysłane na e-mail")
    assert last(app, "account-letter").details == "list z nowym hasłem"
    app.state.mailer.flush(10)
    outbox = list((settings.data_dir / "outbox").glob("*.eml"))
    assert any(b"jan@example.pl" in p.read_bytes() for p in outbox)


def test_closing_needs_the_checkbox_and_is_final(app, staff_client, resident):
    record, client = resident
    office = staff_client("office")
    url = f"/panel/accounts/{record.id}/close"
    confirm = office.get(url)
    assert confirm.status_code == 200 and "Zamknąć konto jan" in confirm.text
    assert 'type="checkbox" name="confirmed"' in confirm.text and "po 30 dniach" in confirm.text
    unticked = post_form(office, url, {})
    assert unticked.status_code == 400 and "Zaznacz potwierdzenie" in unticked.text
    assert app.state.accounts.get(record.id).status != CLOSED

    done = post_form(office, url, {"confirmed": "1"})
    assert done.headers["location"] == f"/panel/accounts/{record.id}?done=closed"
    assert app.state.accounts.get(record.id).status == CLOSED
    assert client.get("/premises/KW5%2F12", follow_redirects=False).status_code == 303
    erase = (utc_now() + timedelta(days=30)).astimezone(LOCAL_ZONE).strftime("%d.%m.%Y")
    assert last(app, "account-closed").details.endswith(f"do usunięcia po {erase}")

    page = office.get(done.headers["location"]).text
    assert "zamknięte (rezygnacja)" in page and "zostaną usunięte po" in page
    for action in ("/reset", "/disable", "/close", "/unlink", "/link", "/email"):
        assert f'/panel/accounts/{record.id}{action}"' not in page, action
    for action in ("reset", "disable", "close", "unlink"):
        assert office.get(f"/panel/accounts/{record.id}/{action}").status_code == 400
        page = f"/panel/accounts/{record.id}"
        answer = post_form(office, page, {"confirmed": "1"}, f"{page}/{action}")
        assert answer.status_code == 400 and "zamknięte" in answer.text
    enable = post_form(office, f"/panel/accounts/{record.id}", {}, f"{url[:-6]}/enable")
    assert enable.status_code == 400
    assert app.state.accounts.get(record.id).status == CLOSED
    assert len(audit_entries(app, action="account-closed")) == 1


def test_erasing_a_closed_account_takes_its_login_out_of_the_office_entries(
    app, staff_client, resident
):
    record, _ = resident
    office = staff_client("office")
    post_form(office, f"/panel/accounts/{record.id}/close", {"confirmed": "1"})
    app.state.accounts.purge_closed(0, now=utc_now() + timedelta(seconds=1))
    entries = [e for e in audit_entries(app) if e.action.startswith("account-")]
    assert entries
    assert all(e.target == f"konto #{record.id} (usunięte)" for e in entries)


def test_office_pages_are_not_the_accountants_or_a_residents(app, staff_client, resident):
    record, client = resident
    accountant = staff_client("accountant")
    token = csrf_token(accountant.get("/panel/").text)
    pid = quote("KW5/12", safe="")
    for url in (
        "/panel/accounts",
        "/panel/accounts?q=jan",
        "/panel/accounts/new",
        f"/panel/accounts/{record.id}",
        f"/panel/accounts/{record.id}/reset",
        f"/panel/accounts/{record.id}/preview",
        f"/panel/accounts/{record.id}/preview/premises/{pid}",
        f"/panel/accounts/{record.id}/preview/premises/{pid}/ledger",
    ):
        assert accountant.get(url).status_code == 404, url
        assert client.get(url).status_code == 404, url  # a signed-in resident
    posts = ("/panel/accounts/new", f"/panel/accounts/{record.id}/close", "/panel/accounts/letter")
    for url in posts:
        answer = accountant.post(url, data={"csrf_token": token, "confirmed": "1"})
        assert answer.status_code == 404, url
    assert app.state.accounts.get(record.id).status != CLOSED
    assert 'href="/panel/accounts"' not in accountant.get("/panel/").text
    assert 'href="/panel/accounts"' in staff_client("office").get("/panel/").text
    assert 'href="/panel/accounts"' in staff_client("admin").get("/panel/").text
