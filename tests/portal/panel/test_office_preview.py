"""The office's "view as the resident" (portal.panel.preview_views over the residents' own
premises pages): marked, read-only, only the account's premises, audited."""

from __future__ import annotations

import hashlib
import re

import pytest

from portal.panel import preview_views
from portal.premises import community
from tests.builders import make_document, publish_documents
from tests.portal.panel.flows import audit_entries
from tests.portal.premises.test_community_pages import (
    A_OLD,
    A_PDF,
    B_PDF,
    announcement,
    document,
    publish,
)
from tests.portal.premises.test_readings_page import with_readings

ALLOWANCE = {
    "decision": "DM/7/2026",
    "issuer": "MOPS Kraków",
    "valid_from": "2026-01-01",
    "valid_to": "",
    "monthly_amount": 12000,
    "file": "allowances.csv",
    "row": 2,
}


@pytest.fixture
def account(app):
    """`jan` on KW5/12 and KW5/G 3; KW5/13 is published but not his."""
    publish_documents(
        app.state.store,
        [
            make_document("KW5/12", allowances=[ALLOWANCE]),
            make_document("KW5/G 3", number="G3", kind="garaż"),
            make_document("KW5/13", number="13", payer_name="Obcy Sąsiad"),
        ],
    )
    record, _ = app.state.accounts.open_account("jan", ["KW5/12", "KW5/G 3"])
    return record


def base(record) -> str:
    return f"/panel/accounts/{record.id}/preview"


def read_only(html: str) -> None:
    assert "Podgląd jak mieszkaniec jan" in html
    assert 'method="post"' not in html.lower()
    for resident_only in ("/logout", "/password/change", "/slip", "ledger.csv", "Wyloguj"):
        assert resident_only not in html, resident_only
    links = re.findall(r'href="(/[^"]*)"', html)
    inside = [u for u in links if not u.startswith("/static/")]
    # every link stays in the preview (or goes back to the account), but the residents' home
    assert all(u.startswith("/panel/accounts/") or u == "/" for u in inside), inside


def test_the_preview_shows_the_residents_pages_marked_and_read_only(app, staff_client, account):
    office = staff_client("office")
    home = office.get(base(account))
    assert home.status_code == 200
    read_only(home.text)
    assert "Moje lokale" in home.text
    assert f'href="{base(account)}/premises/KW5%2F12"' in home.text
    assert "KW5/13" not in home.text

    premises = f"{base(account)}/premises/KW5%2F12"
    for page, expected in (
        ("", "Saldo w czasie"),
        ("/ledger", "Obroty na koncie lokalu KW5/12"),
        ("/ledger?year=all", "Podsumowanie lat"),
        ("/fees", "Składniki opłaty miesięcznej"),
        ("/allowances", "DM/7/2026"),
    ):
        answer = office.get(premises + page)
        assert answer.status_code == 200, page
        assert expected in answer.text, page
        read_only(answer.text)
        assert f'href="{premises}/ledger"' in answer.text  # the tabs stay in the preview
        assert 'href="/static/panel.css"' in answer.text  # the banner's style
    garage = office.get(f"{base(account)}/premises/KW5%2FG%203/fees")
    assert garage.status_code == 200 and "KW5/G 3" in garage.text

    entries = [e for e in audit_entries(app, action="preview")]
    assert [e.details for e in entries] == [
        "lista lokali",
        "lokal KW5/12, przegląd",
        "lokal KW5/12, obroty",
        "lokal KW5/12, obroty",
        "lokal KW5/12, opłaty",
        "lokal KW5/12, dodatki",
        "lokal KW5/G 3, opłaty",
    ]
    assert all((e.target, e.account_id) == ("jan", account.id) for e in entries)
    assert entries[0].staff_login == office.staff.login


def test_the_preview_shows_only_the_accounts_premises(app, staff_client, account):
    office = staff_client("office")
    before = len(audit_entries(app, action="preview"))
    for url in (
        f"{base(account)}/premises/KW5%2F13",  # published, someone else's
        f"{base(account)}/premises/KW5%2F13/ledger",
        f"{base(account)}/premises/NIE%2FMA",
        "/panel/accounts/999/preview",
        "/panel/accounts/999/preview/premises/KW5%2F12",
    ):
        answer = office.get(url)
        assert answer.status_code == 404, url
    assert len(audit_entries(app, action="preview")) == before  # nothing was shown


def test_one_premises_goes_straight_to_its_overview_as_for_the_resident(app, staff_client):
    publish_documents(app.state.store, [make_document("KW5/12")])
    record, _ = app.state.accounts.open_account("ola", ["KW5/12"])
    answer = staff_client("admin").get(base(record), follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{base(record)}/premises/KW5%2F12"


def test_no_published_data_is_said_so(app, staff_client):
    record, _ = app.state.accounts.open_account("ola", ["KW5/12"])
    answer = staff_client("office").get(base(record))
    assert answer.status_code == 503 and "Nie ma jeszcze opublikowanych danych" in answer.text


def test_the_residents_own_pages_are_untouched_by_a_preview(app, staff_client, signed_in, account):
    office = staff_client("office")
    assert office.get(f"{base(account)}/premises/KW5%2F12").status_code == 200
    resident = signed_in("KW5/12", login="anna")
    page = resident.get("/premises/KW5%2F12").text
    assert 'href="/premises/KW5%2F12/slip"' in page and "/panel/" not in page
    assert "Podgląd jak mieszkaniec" not in page and "Wyloguj" in page
    ledger = resident.get("/premises/KW5%2F12/ledger").text
    assert "ledger.csv" in ledger and "/panel/" not in ledger


def test_every_preview_page_has_a_route():
    assert set(preview_views.PAGE_NAMES) == set(preview_views.PAGES)


@pytest.fixture
def community_account(app):
    """`ola` on KW5/12 (with meter readings) of WM-KW5, which has two documents; Lipowa 7,
    someone else's community, has one of its own."""
    publish(
        app.state.store,
        [
            with_readings("KW5/12"),
            make_document("LI7/1", community_id="WM-LI7", community_name="Wspólnota Lipowa 7"),
        ],
        announcements=[announcement("WM-KW5", "Odczyt wodomierzy", start="2026-01-01")],
        documents=[
            document("WM-KW5", "Regulamin porządku", A_OLD, "2024-06-12", "rules"),
            document("WM-KW5", "Uchwała nr 1/2026", A_PDF, "2026-03-25"),
            document("WM-LI7", "Uchwała wspólnoty B", B_PDF, "2026-05-01"),
        ],
        files={hashlib.sha256(d).hexdigest(): d for d in (A_PDF, A_OLD, B_PDF)},
    )
    record, _ = app.state.accounts.open_account("ola", ["KW5/12"])
    return record


def read_only_as(html: str, login: str) -> None:
    read_only(html.replace(f"Podgląd jak mieszkaniec {login}", "Podgląd jak mieszkaniec jan"))


def test_the_preview_shows_the_readings_and_the_documents_read_only(
    app, staff_client, community_account
):
    office = staff_client("office")
    home = base(community_account)
    premises = f"{home}/premises/KW5%2F12"

    overview = office.get(premises).text
    assert f'href="{premises}/readings"' in overview  # the tab, inside the preview
    assert f'href="{home}/documents"' in overview
    readings = office.get(f"{premises}/readings")
    assert readings.status_code == 200
    assert 'aria-current="page">Odczyty liczników' in readings.text
    assert "Zimna woda: zużycie od 09.2026 do 10.2026" in readings.text
    read_only_as(readings.text, "ola")
    assert 'href="/static/panel.css"' in readings.text  # the banner's style

    listing = office.get(f"{home}/documents")
    assert listing.status_code == 200
    read_only_as(listing.text, "ola")
    assert "Uchwała nr 1/2026" in listing.text and "Regulamin porządku" in listing.text
    assert "Uchwała wspólnoty B" not in listing.text  # another community's
    assert f'<a href="{home}">' in listing.text  # back to the account's premises, in the preview
    ours, theirs = (hashlib.sha256(d).hexdigest() for d in (A_PDF, B_PDF))
    assert f'href="{home}/documents/{ours}"' in listing.text

    pdf = office.get(f"{home}/documents/{ours}")
    assert pdf.status_code == 200 and pdf.content == A_PDF
    assert pdf.headers["content-disposition"].startswith("attachment;")
    assert pdf.headers["content-security-policy"] == community.DOCUMENT_CSP
    for url in (
        f"{home}/documents/{theirs}",
        f"{home}/documents/{'0' * 64}",
        f"{home}/documents/x",
    ):
        assert office.get(url).status_code == 404, url

    entries = audit_entries(app, action="preview")
    assert [e.details for e in entries] == [
        "lokal KW5/12, przegląd",
        "lokal KW5/12, odczyty liczników",
        "dokumenty",
        f"dokument {ours}",
    ]
    assert all((e.target, e.account_id) == ("ola", community_account.id) for e in entries)


def test_the_documents_preview_is_for_staff_who_do_the_office_work_only(
    app, staff_client, community_account, signed_in
):
    ours = hashlib.sha256(A_PDF).hexdigest()
    home = base(community_account)
    accountant = staff_client("accountant")
    for url in (
        f"{home}/documents",
        f"{home}/documents/{ours}",
        f"{home}/premises/KW5%2F12/readings",
    ):
        assert accountant.get(url).status_code == 404, url
    resident = signed_in("KW5/12", login="anna")  # a resident of the same community
    for url in (f"{home}/documents", f"{home}/documents/{ours}"):
        assert resident.get(url, follow_redirects=False).status_code != 200, url
    assert resident.get(f"/documents/{ours}").status_code == 200  # their own way in
