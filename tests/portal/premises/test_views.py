"""The resident's pages through the real application: sign-in form, session, CSRF, views."""

from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser
from urllib.parse import quote

import pytest

import etl.snapshot.store
from tests.builders import ledger_row, make_document, publish_documents

NBSP = "\u00a0"


def _text(html: str) -> str:
    """Visible text, whitespace squeezed, no-break spaces as plain spaces."""
    html = re.sub(r"<(script|style|title)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace(NBSP, " ")


def _flat(premises_id="KW5/12", **kw):
    return make_document(
        premises_id,
        ledger=[
            ledger_row("2025-12-01", "Bilans otwarcia", charge=10000, row=2),
            ledger_row("2026-01-10", "Naliczenie 01/2026", charge=45000, period="2026-01", row=3),
            ledger_row("2026-01-15", "Wpłata", payment=123456, document="WB/1", row=4),
        ],
        **kw,
    )


def test_single_premises_goes_straight_to_it_and_shows_balance(store, signed_in):
    publish_documents(store, [_flat(), _flat("KW5/13", number="13")])
    client = signed_in("KW5/12")
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303
    assert home.headers["location"] == "/premises/KW5%2F12"
    page = client.get(home.headers["location"])
    text = _text(page.text)
    # 1234,56 − 100 − 450 = 684,56 in favour of the resident.
    assert "684,56 zł" in text and "nadpłata" in text
    assert "Dane według stanu na 20.11.2026" in text
    assert "Miesięczna opłata: 285,08 zł" in text
    assert "54,30 m²" in text and "Jan Kowalski" in text
    assert 'href="/premises/KW5%2F12/slip"' in page.text
    assert "<svg" in page.text and "Saldo od 01.12.2025 do 15.01.2026" in text


@pytest.mark.parametrize(
    ("ledger", "word", "amount"),
    [
        ([ledger_row("2026-01-10", "Naliczenie", charge=45000, row=2)], "zaległość", "-450,00 zł"),
        (
            [
                ledger_row("2026-01-10", "Naliczenie", charge=45000, row=2),
                ledger_row("2026-01-11", "Wpłata", payment=45000, row=3),
            ],
            "rozliczone",
            "0,00 zł",
        ),
    ],
)
def test_verdict_in_plain_words(store, signed_in, ledger, word, amount):
    publish_documents(store, [make_document("KW5/12", ledger=ledger)])
    text = _text(signed_in("KW5/12").get("/premises/KW5%2F12").text)
    assert f"Saldo {amount} {word}" in text


def test_several_premises_are_listed_and_only_those_published(store, signed_in):
    publish_documents(store, [_flat(), make_document("G 3", number="G3", kind="garaż")])
    client = signed_in("KW5/12", "G 3", "KW5/99")
    page = client.get("/")
    assert page.status_code == 200
    assert 'href="/premises/KW5%2F12"' in page.text
    assert 'href="/premises/G%203"' in page.text
    assert "KW5/99" not in page.text
    assert "garaż" in _text(page.text)
    assert client.get("/premises/G%203").status_code == 200


def test_other_residents_premises_are_not_found(store, signed_in):
    publish_documents(store, [_flat(), _flat("KW5/13", number="13", payer_name="Anna Nowak")])
    client = signed_in("KW5/12")
    for path in ("", "/ledger", "/ledger.csv", "/fees", "/allowances"):
        response = client.get("/premises/KW5%2F13" + path)
        assert response.status_code == 404, path
        assert "Anna Nowak" not in response.text
        assert "Nie znaleziono strony" in response.text
    # Linked to the account but missing from the current generation: also 404.
    client2 = signed_in("KW5/77", login="sasiad")
    assert client2.get("/premises/KW5%2F77").status_code == 404
    assert "Do tego konta nie jest obecnie przypisany" in client2.get("/").text


def test_ids_with_slashes_and_spaces_reach_every_subpage(store, signed_in):
    pid = "B 2/3/garaż"
    publish_documents(store, [_flat(pid)])
    client = signed_in(pid)
    base = "/premises/" + quote(pid, safe="")
    for path in ("", "/ledger", "/ledger.csv", "/fees", "/allowances"):
        assert client.get(base + path).status_code == 200, path
    page = client.get(base)
    assert f'href="{base}/ledger"' in page.text


def test_ledger_filters_by_year_and_shows_breakdown(store, signed_in):
    details = [
        {
            "description": "Woda zimna",
            "quantity": "3.5",
            "unit": "m3",
            "rate": "12.50",
            "amount": 4375,
        },
    ]
    doc = make_document(
        ledger=[
            ledger_row("2025-06-01", "Naliczenie 06/2025", charge=30000, row=2),
            ledger_row("2026-02-01", "Naliczenie 02/2026", charge=4375, row=3, details=details),
            ledger_row("2026-02-10", "Wpłata", payment=50000, document="WB/7", row=4),
        ]
    )
    publish_documents(store, [doc])
    client = signed_in("KW5/12")
    text = _text(client.get("/premises/KW5%2F12/ledger?year=2026").text)
    assert "Naliczenie 06/2025" not in text
    assert "Saldo na początek 2026 r.: -300,00 zł" in text
    assert "01.02.2026" in text and "Woda zimna" in text and "43,75 zł" in text
    # running balance continues from the carried-over balance
    assert "-343,75 zł" in text and "156,25 zł" in text
    all_years = _text(client.get("/premises/KW5%2F12/ledger?year=all").text)
    assert "Naliczenie 06/2025" in all_years and "Naliczenie 02/2026" in all_years
    # Without a choice: the newest year.
    default = _text(client.get("/premises/KW5%2F12/ledger").text)
    assert "Naliczenie 06/2025" not in default and "Naliczenie 02/2026" in default


def test_ledger_pages(store, signed_in):
    rows = [ledger_row("2026-01-01", f"Pozycja {i:03d}", charge=100, row=i + 2) for i in range(120)]
    publish_documents(store, [make_document(ledger=rows)])
    client = signed_in("KW5/12")
    first = _text(client.get("/premises/KW5%2F12/ledger").text)
    assert "Pozycja 000" in first and "Pozycja 050" not in first
    assert "Strona 1 z 3" in first
    third = client.get("/premises/KW5%2F12/ledger?page=3")
    assert "Pozycja 119" in third.text and "Pozycja 099" not in third.text
    assert client.get("/premises/KW5%2F12/ledger?page=abc").status_code == 200


def test_ledger_csv_download(store, signed_in):
    publish_documents(store, [_flat()])
    client = signed_in("KW5/12")
    response = client.get("/premises/KW5%2F12/ledger.csv?year=2026")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert (
        response.headers["content-disposition"] == 'attachment; filename="obroty-KW5_12-2026.csv"'
    )
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Data" and len(rows) == 4
    # One year's rows begin with the balance carried from before it (the 2025 opening debt).
    assert rows[1] == ["01.01.2026", "", "Saldo otwarcia", "", "", "", "-100,00"]
    assert rows[3] == ["15.01.2026", "WB/1", "Wpłata", "", "0,00", "1234,56", "684,56"]


def test_fees_with_community_notes(store, signed_in):
    doc = make_document()
    doc["community"]["fee_notes"] = {"header": "Stawki uchwalone 12.12.2025.", "footer": ""}
    publish_documents(store, [doc])
    text = _text(signed_in("KW5/12").get("/premises/KW5%2F12/fees").text)
    assert "Stawki uchwalone 12.12.2025." in text
    assert "Fundusz remontowy m² 54,30 3,15 171,05 zł 01.01.2026" in text
    assert "Razem miesięcznie 285,08 zł" in text


def test_allowances_current_by_as_of_date(store, signed_in):
    allowances = [
        {
            "decision": "DM/1/2025",
            "issuer": "Prezydent Miasta Krakowa",
            "valid_from": "2025-01-01",
            "valid_to": "2025-06-30",
            "monthly_amount": 20000,
            "file": "a.csv",
            "row": 2,
        },
        {
            "decision": "DM/9/2026",
            "issuer": "Prezydent Miasta Krakowa",
            "valid_from": "2026-07-01",
            "valid_to": "2026-11-20",
            "monthly_amount": 25000,
            "file": "a.csv",
            "row": 3,
        },
    ]
    publish_documents(store, [make_document(allowances=allowances, as_of="2026-11-20")])
    text = _text(signed_in("KW5/12").get("/premises/KW5%2F12/allowances").text)
    assert "DM/9/2026 Prezydent Miasta Krakowa 01.07.2026 – 20.11.2026 250,00 zł bieżący" in text
    assert (
        "DM/1/2025 Prezydent Miasta Krakowa 01.01.2025 – 30.06.2025 200,00 zł nieobowiązujący"
        in text
    )


def test_healthz_needs_no_sign_in(client, store):
    down = client.get("/healthz")
    assert down.status_code == 503
    generation = publish_documents(store, [_flat()])
    up = client.get("/healthz")
    assert up.status_code == 200
    assert up.json()["generation"] == generation.id


def test_new_generation_is_shown_without_restart(store, signed_in, app):
    """`ebok import` publishes from another process (here: another store on the same dir); the
    portal looks at the pointer again at most every RECHECK_SECONDS, on its own clock."""
    clock = [1000.0]
    app.state.store.clock = lambda: clock[0]
    publish_documents(store, [_flat()])
    client = signed_in("KW5/12")
    assert "684,56 zł" in _text(client.get("/premises/KW5%2F12").text)
    publish_documents(
        store, [make_document(ledger=[ledger_row("2026-01-10", "Naliczenie", charge=7000)])]
    )
    clock[0] += etl.snapshot.store.RECHECK_SECONDS
    assert "-70,00 zł" in _text(client.get("/premises/KW5%2F12").text)


class _Audit(HTMLParser):
    """Collects what a strict CSP or WCAG would object to."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.ids: set[str] = set()
        self.label_for: set[str] = set()
        self.inputs: list[str] = []
        self.skip_link = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "style" in a:
            self.problems.append(f"style attribute on <{tag}>")
        if any(k.startswith("on") for k in a):
            self.problems.append(f"inline handler on <{tag}>")
        if tag == "script" and "src" not in a:
            self.problems.append("inline script")
        if tag == "style":
            self.problems.append("<style> element")
        for k in ("src", "href", "action"):
            v = a.get(k) or ""
            if re.match(r"(https?:)?//", v):
                self.problems.append(f"foreign {k}={v}")
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "label" and "for" in a:
            self.label_for.add(a["for"])
        if tag in ("select", "textarea") or (tag == "input" and a.get("type") != "hidden"):
            self.inputs.append(a.get("id", "?"))
        if tag == "a" and a.get("class") == "skip-link":
            self.skip_link = a.get("href", "").lstrip("#") or "?"


def test_pages_pass_strict_csp_and_basic_accessibility(store, signed_in):
    publish_documents(store, [_flat()])
    client = signed_in("KW5/12")
    for path in ("", "/ledger", "/fees", "/allowances"):
        html = client.get("/premises/KW5%2F12" + path).text
        audit = _Audit()
        audit.feed(html)
        assert audit.problems == [], path
        assert audit.skip_link in audit.ids, path
        assert set(audit.inputs) <= audit.label_for, path
        assert '<html lang="pl">' in html
        assert html.count("<h1") == 1


def test_before_the_first_import_pages_say_so_in_polish(signed_in):
    client = signed_in("KW5/12")
    for path in ("/", "/premises/KW5%2F12"):
        response = client.get(path)
        assert response.status_code == 503
        assert "Serwis chwilowo niedostępny" in response.text
        assert "Dane nie zostały jeszcze opublikowane." in response.text


def test_header_shows_previous_sign_in_and_a_working_logout_form(store, signed_in):
    publish_documents(store, [_flat()])
    client = signed_in("KW5/12")
    assert "Poprzednie logowanie" not in client.get("/premises/KW5%2F12").text
    signed_in("KW5/12", client=client)  # a second sign-in: now there is a previous one
    page = client.get("/premises/KW5%2F12").text
    assert re.search(r"Poprzednie logowanie: \d\d\.\d\d\.\d{4} \d\d:\d\d", _text(page))
    form = re.search(
        r'<form class="logout-form" method="post" action="/logout">(.*?)</form>', page, re.S
    )
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.group(1)).group(1)
    out = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"].startswith("/login")
    assert client.get("/premises/KW5%2F12", follow_redirects=False).status_code == 303


def test_a_server_error_is_a_polish_page_not_a_traceback(app, store, signed_in):
    from starlette.testclient import TestClient

    broken = make_document()
    broken["ledger"]["columns"] = ["date"]  # a document this code cannot read
    publish_documents(store, [broken])
    client = signed_in("KW5/12", client=TestClient(app, raise_server_exceptions=False))
    response = client.get("/premises/KW5%2F12")
    assert response.status_code == 500
    assert "Błąd serwera" in response.text and "Wystąpił nieoczekiwany błąd" in response.text
    assert "Traceback" not in response.text and "KeyError" not in response.text


def test_co_owners_share_the_premises_but_each_sees_only_their_own_header(store, signed_in):
    publish_documents(store, [_flat()])
    anna = signed_in("KW5/12", login="anna")
    jan = signed_in("KW5/12", login="jan")
    page_anna = anna.get("/premises/KW5%2F12").text
    page_jan = jan.get("/premises/KW5%2F12").text
    assert "Zalogowano jako anna" in _text(page_anna) and "jan" not in _text(page_anna).split()
    assert "Zalogowano jako jan" in _text(page_jan) and "anna" not in _text(page_jan).split()
    token = re.compile(r'name="csrf_token" value="([^"]+)"')
    assert token.search(page_anna).group(1) != token.search(page_jan).group(1)
    assert "684,56 zł" in _text(page_anna) and "684,56 zł" in _text(page_jan)


def test_ledger_page_sums_up_each_year_above_the_rows(store, signed_in):
    doc = make_document(
        ledger=[
            ledger_row("2025-01-01", "Bilans otwarcia", charge=5000, row=2),
            ledger_row("2025-06-01", "Naliczenie 06/2025", charge=123456, row=3),
            ledger_row("2025-06-15", "Wpłata", payment=100000, row=4),
            ledger_row("2026-02-01", "Naliczenie 02/2026", charge=45000, row=5),
            ledger_row("2026-02-10", "Wpłata", payment=200000, row=6),
        ]
    )
    publish_documents(store, [doc])
    page = signed_in("KW5/12").get("/premises/KW5%2F12/ledger?year=2026")
    text = _text(page.text)
    assert "Rok Saldo otwarcia Obciążenia Wpłaty Saldo zamknięcia" in text
    assert "2025 0,00 zł 1 284,56 zł 1 000,00 zł -284,56 zł" in text
    assert "2026 -284,56 zł 450,00 zł 2 000,00 zł 1 265,44 zł" in text
    # The summary comes before the rows, and links each year's rows.
    assert text.index("Saldo zamknięcia") < text.index("Naliczenie 02/2026")
    assert 'href="/premises/KW5%2F12/ledger?year=2025"' in page.text
    assert '<tr class="current">' in page.text


def test_two_yearly_imports_show_both_years_with_one_running_balance(
    settings, store, signed_in, tmp_path
):
    from etl.sync import import_path
    from tests.etl.builders import minimal_tables, write_csv_bundle

    import_path(write_csv_bundle(tmp_path / "y2026", minimal_tables()), settings, store)
    tables = minimal_tables()
    tables["ledger"] = [
        {"premises_id": "KW5/1", "date": "01.01.2027", "description": "Bilans otwarcia",
         "charge": "334,56", "payment": ""},
        {"premises_id": "KW5/1", "date": "10.01.2027", "description": "Naliczenie 01/2027",
         "charge": "500,00", "payment": ""},
        {"premises_id": "KW5/G-3", "date": "01.01.2027", "description": "Saldo początkowe",
         "charge": "", "payment": "12,00"},
    ]  # fmt: skip
    import_path(write_csv_bundle(tmp_path / "y2027", tables), settings, store)

    client = signed_in("KW5/1")
    overview = _text(client.get("/premises/KW5%2F1").text)
    assert "-834,56 zł" in overview and "zaległość" in overview
    every = _text(client.get("/premises/KW5%2F1/ledger?year=all").text)
    assert "2026 0,00 zł 1 334,56 zł 1 000,00 zł -334,56 zł" in every
    assert "2027 -334,56 zł 500,00 zł 0,00 zł -834,56 zł" in every
    # 2026 as first imported, then 2027 without its opening row: the balance runs on.
    assert "Naliczenie 01/2026" in every and "Naliczenie 01/2027" in every
    assert every.count("Bilans otwarcia") == 1
    assert "10.01.2027 Naliczenie 01/2027 500,00 zł -834,56 zł" in every
    year = _text(client.get("/premises/KW5%2F1/ledger?year=2027").text)
    assert "Saldo na początek 2027 r.: -334,56 zł" in year
    response = client.get("/premises/KW5%2F1/ledger.csv?year=2027")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[1] == ["01.01.2027", "", "Saldo otwarcia", "", "", "", "-334,56"]
    assert rows[2][2:] == ["Naliczenie 01/2027", "", "500,00", "0,00", "-834,56"]
