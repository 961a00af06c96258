"""The office panel in English: the header's switch, each section's pages, the messages views
pass (portal.panel.pages.render), and a letter printed in the office's language."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from portal.accounts.passwords import hash_password
from tests.builders import make_document, publish_documents
from tests.portal.panel.flows import enrol_step, new_password_step, password_step

POLISH = re.compile(r"[ąćęłńśźżĄĆĘŁŃŚŹŻ]")
PAGES = (
    "/panel/",
    "/panel/accounts",
    "/panel/accounts?q=KW5",
    "/panel/accounts/new",
    "/panel/staff",
    "/panel/staff/new",
    "/panel/audit",
    "/panel/generations",
    "/panel/imports",
)


@pytest.fixture
def english_admin(app, staff_client):
    publish_documents(app.state.store, [make_document("KW5/12")])
    client = staff_client("admin")
    response = client.get("/panel/?lang=en", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/panel/"
    return client


def _visible(html: str) -> str:
    """The page's text a person reads: no tags, no data (the demo community's Polish names)."""
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    for data in ("Wspólnota Mieszkaniowa Kwiatowa 5", "Kwiatowa", "Jan Kowalski", "Polski"):
        text = text.replace(data, " ")
    return text


@pytest.mark.parametrize("path", PAGES)
def test_each_section_reads_in_english(english_admin, path) -> None:
    page = english_admin.get(path)
    assert page.status_code == 200, page.text
    assert '<html lang="en">' in page.text and "Manager's office panel" in page.text
    leftovers = [w for w in _visible(page.text).split() if POLISH.search(w)]
    assert not leftovers, f"{path}: Polish words left: {leftovers[:10]}"


def test_an_account_page_and_its_actions_in_english(app, english_admin) -> None:
    record = app.state.accounts.create(
        "anna", hash_password("x" * 20), ["KW5/12"], email="anna@example.com",
        must_change_password=False,
    )
    page = english_admin.get(f"/panel/accounts/{record.id}")
    assert "Resident account anna" in page.text and "active" in page.text
    assert not [w for w in _visible(page.text).split() if POLISH.search(w)]
    confirm = english_admin.get(f"/panel/accounts/{record.id}/disable")
    assert "Block the account anna?" in confirm.text
    assert "Block the account" in confirm.text
    preview = english_admin.get(f"/panel/accounts/{record.id}/preview")
    assert "Preview as resident anna" in preview.text


def test_the_letter_follows_the_offices_language(app, english_admin, monkeypatch) -> None:
    import portal.accounts.letters
    from tests.forms import csrf_token

    printed = []

    def render_letter(letter):
        printed.append(portal.accounts.letters.letter_html(letter))
        return b"%PDF-1.4"

    monkeypatch.setattr(portal.accounts.letters, "render_letter", render_letter)
    page = english_admin.get("/panel/accounts/new?premises=KW5/12")
    response = english_admin.post(
        "/panel/accounts/new",
        data={
            "csrf_token": csrf_token(page.text),
            "application_number": "W/1/2026",
            "application_date": "2026-11-02",
            "premises": "KW5/12",
            "login": "jan.en",
            "email": "",
        },
    )
    assert response.status_code == 200 and "Account opened" in response.text
    token = re.search(r'name="token" value="([^"]+)"', response.text)[1]
    pdf = english_admin.post(
        "/panel/accounts/letter", data={"csrf_token": csrf_token(response.text), "token": token}
    )
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    [html] = printed
    assert '<html lang="en">' in html and "One-time password" in html and "jan.en" in html


def test_an_import_reads_in_english(settings, tmp_path) -> None:
    import ebok.serve
    from tests.etl.builders import minimal_tables, write_csv_bundle
    from tests.portal.panel.test_imports import files_of, finished, send

    # The app as `ebok serve` makes it (with the import service); staff_client signs in to
    # the `app` fixture's, so the sign-in is done here.
    app = ebok.serve.create_app(settings)
    member, one_time = app.state.staff.create("anna", "accountant")
    with TestClient(app) as accountant:
        password_step(accountant, "anna", one_time)
        new_password_step(accountant)
        enrol_step(accountant)
        accountant.get("/panel/imports?lang=en")
        answer = send(accountant, files_of(write_csv_bundle(tmp_path / "k", minimal_tables())))
        page = finished(app, accountant, answer)
        assert "Published." in page.text and "What changed" in page.text
        assert "20 Nov 2026" in page.text
        history = accountant.get("/panel/imports").text
        assert "5 files: allowances.csv, communities.csv, …" in history
        assert ">Published<" in history
