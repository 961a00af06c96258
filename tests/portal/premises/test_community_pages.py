"""A community's announcements (home page) and documents (/documents): shown to residents of
that community only, text escaped, PDFs served as downloads that cannot run in the page."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date
from typing import Any

import pytest

from etl.demo.pdf import document_pdf
from etl.snapshot.generation import Generation
from etl.snapshot.store import SnapshotStore
from etl.snapshot.writer import body_digest
from portal.premises import community
from tests.builders import make_document

NBSP = "\u00a0"


def _text(html: str) -> str:
    html = re.sub(r"<(script|style|title)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace(NBSP, " ")


def announcement(cid: str, title: str, text: str = "", start: str = "2026-11-01", end: str = ""):
    return {
        "community_id": cid, "valid_from": start, "valid_to": end, "title": title, "text": text,
        "file": "ogloszenia.csv", "row": 2,
    }  # fmt: skip


def document(cid: str, title: str, data: bytes, day: str, kind: str = "resolution") -> dict:
    return {
        "community_id": cid, "document_id": hashlib.sha256(data).hexdigest(), "date": day,
        "title": title, "kind": kind, "name": f"{title}.pdf", "size": len(data),
        "file": "dokumenty.csv", "row": 2,
    }  # fmt: skip


def publish(
    store: SnapshotStore,
    docs: list[dict[str, Any]],
    announcements: list[dict] = (),  # type: ignore[assignment]
    documents: list[dict] = (),  # type: ignore[assignment]
    files: dict[str, bytes] | None = None,
) -> Generation:
    """A generation with these premises documents, announcements and community documents."""
    writer = store.start()
    bodies = [(d, json.dumps(d, ensure_ascii=False)) for d in docs]
    writer.add_digested(
        [
            (d["premises_id"], d["community"]["community_id"], body_digest(body), body)
            for d, body in bodies
        ]
    )
    writer.add_announcements(announcements)
    writer.add_community_documents(documents, files or {})
    communities = {d["community"]["community_id"]: {"as_of": "2026-11-20"} for d in docs}
    return writer.commit(
        {"imported_at": "2026-11-25T02:00:00+00:00", "sources": [], "communities": communities,
         "counts": {"premises": len(docs)}, "content_digest": writer.content_digest()}
    )  # fmt: skip


A_PDF = document_pdf("Uchwała nr 1/2026", ["Treść uchwały."])
A_OLD = document_pdf("Regulamin", ["Cisza nocna."])
B_PDF = document_pdf("Uchwała wspólnoty B", ["Tajne."])


@pytest.fixture(autouse=True)
def on_29_november(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(community, "today", lambda: date(2026, 11, 29))


@pytest.fixture
def two_communities(store: SnapshotStore) -> Generation:
    return publish(
        store,
        [
            make_document("KW5/12"),
            make_document("KW5/13", number="13"),
            make_document("LI7/1", community_id="WM-LI7", community_name="Wspólnota Lipowa 7"),
        ],
        announcements=[
            announcement(
                "WM-KW5",
                "Przegląd <b>gazowy</b>",
                "Akapit <script>alert(1)</script> & więcej.\n\nDrugi: https://example.com/a?b=1&c=2."
                '\nnowa linia <a href="javascript:x">x</a>',
            ),
            announcement("WM-KW5", "Minione", start="2026-10-01", end="2026-10-31"),
            announcement("WM-KW5", "Przyszłe", start="2026-12-01"),
            announcement("WM-KW5", "Do końca roku", start="2026-11-20", end="2026-12-31"),
            announcement("WM-LI7", "Tylko Lipowa"),
        ],  # fmt: skip
        documents=[
            document("WM-KW5", "Regulamin porządku", A_OLD, "2024-06-12", "rules"),
            document("WM-KW5", "Uchwała nr 1/2026", A_PDF, "2026-03-25"),
            document("WM-LI7", "Uchwała wspólnoty B", B_PDF, "2026-05-01"),
        ],
        files={hashlib.sha256(d).hexdigest(): d for d in (A_PDF, A_OLD, B_PDF)},
    )


def test_announcements_in_force_are_on_the_home_page_escaped(two_communities, signed_in):
    page = signed_in("KW5/12", "KW5/13").get("/")
    assert page.status_code == 200
    html = page.text
    titles = re.findall(r'<h3 id="ogloszenie-\d+">(.*?)</h3>', html)
    assert titles == ["Do końca roku", "Przegląd &lt;b&gt;gazowy&lt;/b&gt;"]  # newest first
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert 'href="javascript' not in html
    assert (
        "<p>Akapit &lt;script&gt;alert(1)&lt;/script&gt; &amp; więcej.</p>"
        '<p>Drugi: <a href="https://example.com/a?b=1&amp;c=2" rel="noopener nofollow">'
        "https://example.com/a?b=1&amp;c=2</a>.<br>\nnowa linia &lt;a href=&#34;javascript:x&#34;"
        "&gt;x&lt;/a&gt;</p>"
    ) in html
    text = _text(html)
    assert "ważne do 31.12.2026" in text and "od 01.11.2026" in text
    assert "Minione" not in text and "Przyszłe" not in text and "Tylko Lipowa" not in text
    assert 'href="/documents"' in html


def test_an_announcement_is_shown_from_its_first_day_to_its_last(store, signed_in, monkeypatch):
    publish(
        store,
        [make_document("KW5/12"), make_document("KW5/13", number="13")],
        [announcement("WM-KW5", "Wymiana", start="2026-12-01", end="2026-12-03")],
    )
    client = signed_in("KW5/12", "KW5/13")
    for day, shown in [(30, False), (1, True), (3, True), (4, False)]:
        on = date(2026, 11 if day == 30 else 12, day)
        monkeypatch.setattr(community, "today", lambda on=on: on)
        assert ("Wymiana" in client.get("/").text) is shown, on


def test_one_premises_lands_on_the_announcements_while_there_are_any(store, signed_in):
    publish(store, [make_document("KW5/12")], [announcement("WM-KW5", "Uwaga")])
    client = signed_in("KW5/12")
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 200 and "Uwaga" in home.text
    assert 'href="/premises/KW5%2F12"' in home.text


def test_another_communitys_resident_sees_none_of_it(two_communities, signed_in):
    client = signed_in("LI7/1")
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 200 and "Tylko Lipowa" in home.text
    assert "gazowy" not in home.text
    listing = client.get("/documents")
    assert "Uchwała wspólnoty B" in listing.text and "Regulamin porządku" not in listing.text
    for data in (A_PDF, A_OLD):
        response = client.get(f"/documents/{hashlib.sha256(data).hexdigest()}")
        assert response.status_code == 404 and "Nie znaleziono" in response.text


def test_documents_are_listed_newest_first_with_their_kind(two_communities, signed_in):
    page = signed_in("KW5/12").get("/documents")
    assert page.status_code == 200
    text = _text(page.text)
    assert re.search(
        r"25\.03\.2026 Uchwała Uchwała nr 1/2026 Pobierz PDF.*"
        r"12\.06\.2024 Regulamin Regulamin porządku Pobierz PDF",
        text,
    ), text
    assert "Uchwała wspólnoty B" not in text
    links = re.findall(r'href="(/documents/[^"]+)"', page.text)
    assert links == [f"/documents/{hashlib.sha256(d).hexdigest()}" for d in (A_PDF, A_OLD)]


def test_a_document_is_a_sandboxed_pdf_download(two_communities, signed_in):
    client = signed_in("KW5/12")
    response = client.get(f"/documents/{hashlib.sha256(A_PDF).hexdigest()}")
    assert response.status_code == 200
    assert response.content == A_PDF
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        'attachment; filename="2026-03-25-uchwala-nr-1-2026.pdf"'
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-security-policy"].startswith("sandbox;")
    assert "no-store" in response.headers["cache-control"]


@pytest.mark.parametrize(
    "path",
    ["/documents/" + "0" * 64, "/documents/..%2F..%2Fpremises.sqlite3", "/documents/ABC",
     "/documents/" + hashlib.sha256(A_PDF).hexdigest().upper()],
)  # fmt: skip
def test_unknown_or_malformed_document_ids_are_404(two_communities, signed_in, path):
    assert signed_in("KW5/12").get(path).status_code == 404


def test_signed_out_visitors_get_neither(two_communities, client):
    for path in ("/documents", f"/documents/{hashlib.sha256(A_PDF).hexdigest()}"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code in (302, 303) and "/login" in response.headers["location"]


def test_premises_pages_link_to_the_documents(two_communities, signed_in):
    page = signed_in("KW5/12").get("/premises/KW5%2F12/fees")
    assert 'href="/documents">Dokumenty</a>' in page.text


def test_text_html_makes_paragraphs_and_links_of_plain_text():
    html = community.text_html(
        "Pierwszy\nwiersz\n\n  \nDrugi (zob. https://x.pl/a_(b)) i http://y.pl.\n\n"
    )
    assert html == (
        "<p>Pierwszy<br>\nwiersz</p><p>Drugi (zob. "
        '<a href="https://x.pl/a_(b)" rel="noopener nofollow">https://x.pl/a_(b)</a>) i '
        '<a href="http://y.pl" rel="noopener nofollow">http://y.pl</a>.</p>'
    )
    assert community.text_html("") == ""
