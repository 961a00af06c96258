"""The office's resident accounts in the panel: searching premises and accounts, opening an
account on a signed application, the one-time password and its letter (portal.panel.
accounts_views, search, letters_store). One account's page: test_office_accounts.py; the
preview: test_office_preview.py."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import pytest
from pypdf import PdfReader
from starlette.testclient import TestClient

from portal.panel import letters_store, search
from tests.builders import make_document, publish_documents
from tests.cli import NEW_PASSWORD, change_password, sign_in
from tests.database import dump as database_text
from tests.forms import csrf_token
from tests.portal.panel.flows import audit_entries, post_form

APPLICATION = {"application_date": "2026-11-24", "application_number": "W/17/2026"}


def publish(store, *docs):
    return publish_documents(
        store,
        list(docs)
        or [
            make_document("KW5/12", payer_name="Łucja Żółkiewska"),
            make_document("KW5/13", number="13", payer_name="Jan Kowalski"),
            make_document(
                "LI35/1",
                community_id="WM-LI35",
                community_name="Wspólnota Mieszkaniowa Lipowa 35",
                number="1",
                street="ul. Lipowa 35",
                city="Łódź",
                payer_name="Zofia Nowak",
            ),
        ],
    )


def one_time_password(html: str) -> str:
    return re.search(r"Hasło jednorazowe: <code[^>]*>([^<]+)</code>", html).group(1)


def letter_token(html: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', html).group(1)


def create(client: TestClient, **fields):
    """POST the new-account form (the page's own CSRF token); fields as the form sends them."""
    data = {"login": "lucja", "premises": "KW5/12", **APPLICATION, **fields}
    return post_form(client, "/panel/accounts/new", data)


def download(client: TestClient, html: str):
    """Press the password page's letter button."""
    return client.post(
        "/panel/accounts/letter",
        data={"csrf_token": csrf_token(html), "token": letter_token(html)},
        follow_redirects=False,
    )


def pdf_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


# -- search -----------------------------------------------------------------------------------
def test_search_finds_premises_by_id_address_or_payer_without_diacritics(app, staff_client):
    publish(app.state.store)
    app.state.accounts.open_account("jan", ["KW5/13"])
    office = staff_client("office")
    for query, expected, absent in (
        ("zolkiewska", ["KW5/12"], ["KW5/13", "LI35/1"]),
        ("ŁUCJA żółkiewska", ["KW5/12"], ["KW5/13"]),
        ("lodz lipowa", ["LI35/1"], ["KW5/12"]),
        ("kwiatowa 5/13", ["KW5/13"], ["KW5/12", "LI35/1"]),
        ("kw5/1", ["KW5/12", "KW5/13"], ["LI35/1"]),
    ):
        page = office.get("/panel/accounts", params={"q": query})
        assert page.status_code == 200, query
        lokale = page.text.split('id="lokale-h"')[1].split('id="konta-h"')[0]
        for pid in expected:
            assert f"<strong>{pid}</strong>" in lokale, (query, pid)
        for pid in absent:
            assert f"<strong>{pid}</strong>" not in lokale, (query, pid)
    page = office.get("/panel/accounts", params={"q": "Kowalski"}).text
    assert 'href="/panel/accounts/new?premises=KW5/13"' in page  # open an account for it
    jan = app.state.accounts.by_login("jan")
    assert f'<a href="/panel/accounts/{jan.id}">jan</a>' in page  # and who already has one
    assert "Nie znaleziono lokalu" in office.get("/panel/accounts?q=xyzzy").text


def test_an_id_typed_in_full_comes_first(store):
    docs = [make_document(f"KW5/{n}", number=str(n)) for n in (1, 10, 11, 12)]
    generation = publish(store, *docs)
    index = search.PremisesIndex.build(generation)
    found = index.search("kw5/12")
    assert [p.premises_id for p in found.premises] == ["KW5/12"]
    found = index.search("KW5/1")
    assert [p.premises_id for p in found.premises][0] == "KW5/1" and found.total == 4
    assert found.premises[0].address == "ul. Kwiatowa 5/1, 30-001 Kraków"
    assert index.search("   ").total == 0


def test_the_index_is_built_once_per_generation(app, staff_client, monkeypatch):
    publish(app.state.store)
    office = staff_client("office")
    builds = []
    real = search.PremisesIndex.build
    monkeypatch.setattr(
        search.PremisesIndex, "build", classmethod(lambda cls, g: builds.append(g) or real(g))
    )
    office.get("/panel/accounts?q=kowalski")
    office.get("/panel/accounts?q=nowak")
    assert len(builds) == 1
    publish(app.state.store, make_document("NOWY/1", payer_name="Ewa Nowa"))
    assert "NOWY/1" in office.get("/panel/accounts?q=ewa").text
    assert len(builds) == 2


def test_search_finds_accounts_by_login_email_or_application(app, staff_client):
    publish(app.state.store)
    accounts = app.state.accounts
    accounts.open_account("anna.nowak", ["KW5/12"], email="anna@example.pl")
    accounts.open_account("piotr", ["LI35/1"], application_number="W/99/2026")
    office = staff_client("office")

    def logins(query: str) -> list[str]:
        page = office.get("/panel/accounts", params={"q": query}).text
        konta = page.split('id="konta-h"')[1]
        return re.findall(r'<a href="/panel/accounts/\d+">([^<]+)</a>', konta)

    assert logins("ANNA") == ["anna.nowak"]
    assert logins("example.pl") == ["anna.nowak"]
    assert logins("w/99") == ["piotr"]
    assert logins("LI35") == ["piotr"]
    assert logins("50%") == []  # a LIKE wildcard is a character here
    recent = office.get("/panel/accounts").text  # no query: the newest accounts
    assert recent.index("piotr") < recent.index("anna.nowak")


# -- a new account ----------------------------------------------------------------------------
def test_a_new_account_shows_its_password_once_and_records_the_application(
    app, staff_client
):
    publish(app.state.store)
    office = staff_client("office")
    form = office.get("/panel/accounts/new?premises=KW5/13")
    assert form.status_code == 200
    for field in ("login", "premises", "email", "application_date", "application_number"):
        assert f'name="{field}"' in form.text
    assert ">KW5/13</textarea>" in form.text  # from the search's link

    data = {
        "csrf_token": csrf_token(form.text),
        "login": "lucja",
        "premises": ["KW5/12", "KW5/13\nLI35/1\n\nKW5/12"],  # repeated and one per line
        "email": "lucja@example.pl",
        "application_date": "24.11.2026",
        "application_number": "W/17/2026",
    }
    created = office.post("/panel/accounts/new", data=data, follow_redirects=False)
    assert created.status_code == 200, created.text
    password = one_time_password(created.text)
    record = app.state.accounts.by_login("lucja")
    assert record.premises_ids == ("KW5/12", "KW5/13", "LI35/1")
    assert record.email == "lucja@example.pl" and record.must_change_password
    assert app.state.accounts.application(record.id) == (date(2026, 11, 24), "W/17/2026")
    assert created.headers["cache-control"] == "no-store"
    assert password not in letter_token(created.text)  # the link carries no password

    entry = audit_entries(app, action="account-created")[-1]
    assert (entry.staff_login, entry.target, entry.account_id) == (
        office.staff.login,
        "lucja",
        record.id,
    )
    assert entry.details == (
        "lokale: KW5/12, KW5/13, LI35/1; wniosek nr W/17/2026 z 24.11.2026;"
        " e-mail: lucja@example.pl"
    )
    account_page = office.get(f"/panel/accounts/{record.id}").text
    assert "W/17/2026" in account_page and "24.11.2026" in account_page
    assert password not in account_page  # shown once only
    assert password not in office.get("/panel/accounts?q=lucja").text


@pytest.mark.parametrize(
    "fields, reason",
    [
        ({"premises": "KW5/12\nNIE/MA\nKW5/99"}, "nie ma w opublikowanych danych: NIE/MA, KW5/99"),
        ({"premises": ""}, "co najmniej jeden lokal"),
        ({"login": ""}, "Podaj login"),
        ({"login": "łucja nowak"}, "spacji"),
        ({"login": "x" * 65}, "64 znaki"),
        ({"login": "JAN"}, "zajęty"),
        ({"email": "nie-adres"}, "e-mail"),
        ({"application_number": ""}, "numer wniosku"),
        ({"application_date": ""}, "datę wniosku"),
        ({"application_date": "31.02.2026"}, "dd.mm.rrrr"),
        ({"application_date": (date.today() + timedelta(days=2)).isoformat()}, "późniejsza"),
    ],
)
def test_a_new_account_is_refused_with_the_reason(app, staff_client, fields, reason):
    publish(app.state.store)
    app.state.accounts.open_account("jan", ["KW5/13"])
    office = staff_client("office")
    answer = create(office, **fields)
    assert answer.status_code == 400
    assert reason in answer.text
    assert "Hasło jednorazowe" not in answer.text
    assert len(app.state.accounts.list()) == 1
    assert not audit_entries(app, action="account-created")


def test_a_new_account_needs_published_data(app, staff_client):
    office = staff_client("office")
    answer = create(office)
    assert answer.status_code == 400 and "Nie ma jeszcze opublikowanych danych" in answer.text
    assert app.state.accounts.by_login("lucja") is None


def test_every_post_needs_the_csrf_token(app, staff_client):
    publish(app.state.store)
    office = staff_client("office")
    data = {"login": "lucja", "premises": "KW5/12", **APPLICATION}
    answer = office.post("/panel/accounts/new", data=data, follow_redirects=False)
    assert answer.status_code == 403
    assert app.state.accounts.by_login("lucja") is None


# -- the letter -------------------------------------------------------------------------------
def test_the_letter_lets_the_resident_sign_in_with_the_printed_password(app, staff_client):
    publish(app.state.store)
    office = staff_client("office")
    created = create(office, premises="KW5/12")
    letter = download(office, created.text)
    assert letter.status_code == 200
    assert letter.headers["content-type"] == "application/pdf"
    assert letter.headers["content-disposition"] == (
        'attachment; filename="list-aktywacyjny-lucja.pdf"'
    )
    assert letter.headers["cache-control"] == "private, no-store"
    text = pdf_text(letter.content)
    assert "Wspólnota Mieszkaniowa Kwiatowa 5" in text and "KW5/12" in text
    printed = re.search(r"\b([a-z2-9]{4}(?:-[a-z2-9]{4}){3})\b", text).group(1)
    assert printed == one_time_password(created.text)

    resident, answer = sign_in(app, "lucja", printed)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/password/change")
    assert change_password(resident, printed, NEW_PASSWORD).status_code == 303
    assert resident.get("/premises/KW5%2F12").status_code == 200

    entry = audit_entries(app, action="account-letter")[-1]
    assert (entry.target, entry.details) == ("lucja", "list aktywacyjny")


def test_the_letter_downloads_once(app, staff_client):
    publish(app.state.store)
    office = staff_client("office")
    created = create(office)
    assert download(office, created.text).status_code == 200
    again = download(office, created.text)
    assert again.status_code == 410
    assert "List nie jest już dostępny" in again.text
    assert len(audit_entries(app, action="account-letter")) == 1


def test_the_letter_expires_after_ten_minutes(app, staff_client, monkeypatch):
    publish(app.state.store)
    office = staff_client("office")
    created = create(office)
    start = letters_store.now()
    monkeypatch.setattr(letters_store, "now", lambda: start + 10 * 60 + 1)
    assert download(office, created.text).status_code == 410
    assert len(letters_store.store(app.state)) == 0  # forgotten, password and all


def test_the_letter_belongs_to_the_sign_in_that_made_it(app, staff_client):
    publish(app.state.store)
    office = staff_client("office")
    other = staff_client("office")
    created = create(office)
    token = letter_token(created.text)
    page = other.get("/panel/accounts").text
    stolen = other.post(
        "/panel/accounts/letter",
        data={"csrf_token": csrf_token(page), "token": token},
        follow_redirects=False,
    )
    assert stolen.status_code == 410
    assert download(office, created.text).status_code == 410  # a leaked token is spent


def test_the_letter_store_forgets_the_oldest_past_its_bound(monkeypatch):
    monkeypatch.setattr(letters_store, "MAX_WAITING", 3)
    store = letters_store.LetterStore()
    owner = (1, 1, 1)
    tokens = [store.put(_letter(), account_id=i, login=f"l{i}", owner=owner) for i in range(4)]
    assert len(store) == 3
    assert store.take(tokens[0], owner) is None
    assert store.take(tokens[3], owner).login == "l3"


def _letter(password: str = "abcd-efgh-jkmn-pqrs"):
    from portal.accounts.letters import Letter

    return Letter("activation", "lucja", password, "https://ebok.example.pl", places=("KW5/12",))


def test_a_waiting_letter_reveals_neither_password_nor_token_to_the_database(app):
    """The accounts database (a backup of it, a copy) holds the letter sealed by its token."""
    store = letters_store.store(app.state)
    password = "wxyz-2345-6789-abcd"
    token = store.put(_letter(password), account_id=1, login="lucja", owner=(1, 1, 1))
    dump = database_text(app.state.accounts.db())
    assert "office_letters" in dump
    assert password not in dump and token not in dump and "lucja" not in dump
    assert store.take(token + "x", (1, 1, 1)) is None
    assert store.take(token, (1, 1, 1)).letter.password == password
