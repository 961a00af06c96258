"""The payment slip through the real application: the form, the PDF a resident prints (read back
with pdftotext and zbarimg), the browser print view, and who may see which slip."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import quote

import pytest
from pypdf import PdfReader

from portal.slips.form import qr_payload
from tests.builders import make_document, publish_documents
from tests.portal.conftest import CHROMIUM, needs_chromium, wait_for_url

NBSP = "\u00a0"
PAYER = "Łucja Źdźbło-Żółkiewska"
PID = "KW5/12"
OTHER_PID = "KW5/14"
BASE = "/premises/" + quote(PID, safe="")


def _text(html: str) -> str:
    html = re.sub(r"<(script|style|title)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace(NBSP, " ")


def decode_qr_codes(pdf: bytes, tmp_path: Path) -> str:
    """Every QR code on the PDF's first page as a scanner reads it at 200 dpi. zbarimg needs
    binary mode to keep UTF-8 (it guesses Shift-JIS otherwise); codes come back to back."""
    path = tmp_path / "scanned.pdf"
    path.write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "200", "-png", "-singlefile", str(path), str(tmp_path / "page")],
        check=True,
    )
    return subprocess.run(
        ["zbarimg", "--quiet", "--raw", "-Sbinary", str(tmp_path / "page.png")],
        check=True,
        capture_output=True,
    ).stdout.decode("utf-8")


def _pdf_text(pdf: bytes) -> str:
    return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture
def resident(store, signed_in):
    publish_documents(
        store,
        [
            make_document(PID, payer_name=PAYER),
            make_document(OTHER_PID, number="14", payer_name="Adam Sąsiad"),
        ],
    )
    return signed_in(PID)


def test_form_offers_the_monthly_charge_and_arrears_with_a_default_title(resident) -> None:
    page = resident.get(f"{BASE}/slip")
    assert page.status_code == 200
    text = _text(page.text)
    assert "Opłata miesięczna: 285,08 zł" in text  # 114,03 + 171,05
    assert "Bieżąca zaległość: 150,00 zł" in text  # charges 550,00 − payments 400,00
    assert 'value="Opłaty za lokal 12, ul. Kwiatowa 5, 11/2026"' in page.text
    assert 'id="kind-monthly" name="kind" value="monthly" checked' in page.text


def test_submitting_the_form_links_to_the_pdf_with_amount_and_title(resident) -> None:
    page = resident.get(
        f"{BASE}/slip", params={"kind": "arrears", "other": "", "title": "Zaległość 11/2026"}
    )
    assert page.status_code == 200
    text = _text(page.text)
    assert "Blankiet gotowy" in text
    assert "150,00 zł (sto pięćdziesiąt złotych 00/100)" in text
    assert "61 1090 1014 0000 0712 1981 2874" in text
    assert (
        f'href="{BASE}/slip.pdf?amount=150%2C00&amp;title=Zaleg%C5%82o%C5%9B%C4%87+11%2F2026"'
        in (page.text)
    )


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "Kwota musi być większa od zera."),
        ("-1", "Kwota musi być większa od zera."),
        ("1,234", "Kwota może mieć najwyżej dwa miejsca po przecinku"),
        ("100000000", "Kwota może wynosić najwyżej 99 999 999,99 zł."),
        ("abc", "Kwota musi być liczbą"),
    ],
)
def test_bad_amounts_bring_back_the_form_with_the_reason(resident, amount, message) -> None:
    page = resident.get(f"{BASE}/slip", params={"kind": "other", "other": amount, "title": "x"})
    assert page.status_code == 400
    assert message in _text(page.text)
    assert 'aria-invalid="true"' in page.text
    assert "Blankiet gotowy" not in page.text
    # The same values typed straight into the PDF's address: the form again, not a 500.
    pdf = resident.get(f"{BASE}/slip.pdf", params={"amount": amount, "title": "x"})
    assert pdf.status_code == 400
    assert pdf.headers["content-type"].startswith("text/html")
    assert message in _text(pdf.text)


def test_missing_title_is_a_form_error(resident) -> None:
    page = resident.get(f"{BASE}/slip.pdf", params={"amount": "10", "title": " \x01 "})
    assert page.status_code == 400
    assert "Podaj tytuł przelewu." in _text(page.text)


def test_a_pdf_link_without_a_title_prints_the_suggested_title(resident) -> None:
    form = resident.get(f"{BASE}/slip").text  # the title field's value
    suggested = "Opłaty za lokal 12, ul. Kwiatowa 5, 11/2026"
    assert suggested in form
    for params in ({"amount": "10,00"}, {"amount": "10,00", "title": "  "}):
        response = resident.get(f"{BASE}/slip.pdf", params=params)
        assert response.status_code == 200
        printed = re.sub(r"\s+", "", _pdf_text(response.content))  # in the form's boxed lines
        assert re.sub(r"\s+", "", suggested) in printed


def test_another_residents_premises_is_404(resident) -> None:
    other = "/premises/" + quote(OTHER_PID, safe="")
    for path in ("/slip", "/slip.pdf?amount=10&title=x", "/slip/print?amount=10&title=x"):
        assert resident.get(other + path).status_code == 404, path


def test_signed_out_visitor_gets_no_slip(client, store) -> None:
    publish_documents(store, [make_document(PID)])
    response = client.get(f"{BASE}/slip.pdf?amount=10&title=x", follow_redirects=False)
    assert response.status_code in (303, 302, 401, 404)
    assert not response.content.startswith(b"%PDF")


def test_pdf_carries_payer_account_amount_and_title(resident) -> None:
    response = resident.get(
        f"{BASE}/slip.pdf", params={"amount": "123,45", "title": "Opłaty 11/2026"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert 'filename="blankiet-KW5-12.pdf"' in response.headers["content-disposition"]
    text = _pdf_text(response.content).replace(NBSP, " ")
    assert PAYER in text
    assert "61 1090 1014 0000 0712 1981 2874" in text
    assert "123,45 zł" in text
    assert "sto dwadzieścia trzy złote 45/100" in text
    assert "Opłaty 11/2026" in text
    assert "Wspólnota Mieszkaniowa Kwiatowa 5" in text


def test_pdf_uses_the_premises_individual_account(store, signed_in) -> None:
    publish_documents(store, [make_document(PID, bank_account="27114020040000300201355387")])
    client = signed_in(PID)
    response = client.get(f"{BASE}/slip.pdf", params={"amount": "10", "title": "x"})
    text = _pdf_text(response.content)
    assert "27 1140 2004 0000 3002 0135 5387" in text
    assert "61 1090 1014" not in text


def test_repeated_pdf_comes_from_the_cache(app, resident) -> None:
    params = {"amount": "10,00", "title": "Opłaty"}
    first = resident.get(f"{BASE}/slip.pdf", params=params).content
    assert len(app.state.slip_pdfs) == 1
    # "10" and "10,00" are the same amount: the same cache entry, the same bytes.
    again = resident.get(f"{BASE}/slip.pdf", params={"amount": "10", "title": "Opłaty"}).content
    assert again == first
    assert len(app.state.slip_pdfs) == 1


@pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="poppler-utils not installed",
)
def test_pdftotext_shows_polish_letters_not_boxes(resident, tmp_path: Path) -> None:
    response = resident.get(f"{BASE}/slip.pdf", params={"amount": "1", "title": "Żółć"})
    path = tmp_path / "slip.pdf"
    path.write_bytes(response.content)
    out = subprocess.run(
        ["pdftotext", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert PAYER in out
    assert "■" not in out
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True).stdout
    assert "Helvetica" not in fonts or "DejaVuSans" in fonts
    assert "DejaVuSans" in fonts


@pytest.mark.skipif(
    shutil.which("zbarimg") is None or shutil.which("pdftoppm") is None,
    reason="zbar-tools or poppler-utils not installed",
)
def test_qr_on_the_printed_page_decodes_to_the_zbp_payload(resident, tmp_path: Path) -> None:
    title = "Opłaty za lokal 12, ul. Kwiatowa 5, 11/2026"
    response = resident.get(f"{BASE}/slip.pdf", params={"amount": "123,45", "title": title})
    out = decode_qr_codes(response.content, tmp_path)
    expected = qr_payload(
        nip="",
        account="61109010140000071219812874",
        grosze=12345,
        recipient="Wspólnota Mieszkaniowa Kwiatowa 5",
        title=title,
    )
    assert expected == (
        "|PL|61109010140000071219812874|012345|Wspólnota Mieszkanio"
        "|Opłaty za lokal 12, ul. Kwiatowa|||"
    )
    # Two copies on the sheet, each with its code; in binary mode zbarimg writes the decoded
    # bytes back to back.
    assert out.removesuffix("\n") == expected * 2


def test_print_view_is_the_same_slip_without_inline_style_or_script(resident) -> None:
    page = resident.get(
        f"{BASE}/slip/print", params={"amount": "123.45", "title": "Opłaty 11/2026"}
    )
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "style=" not in page.text
    assert "<script" not in page.text
    assert "<style" not in page.text
    assert '<link rel="stylesheet" href="/static/slip.css">' in page.text
    assert "<svg" in page.text and 'class="slip-qr"' in page.text
    text = _text(page.text)
    assert PAYER in text
    assert "61 1090 1014 0000 0712 1981 2874" in text
    assert "123,45 zł" in text
    assert "sto dwadzieścia trzy złote 45/100" in text
    assert resident.get("/static/slip.css").status_code == 200


def test_print_view_rejects_bad_input_with_the_form(resident) -> None:
    page = resident.get(f"{BASE}/slip/print", params={"amount": "12,345", "title": "x"})
    assert page.status_code == 400
    assert "dwa miejsca po przecinku" in _text(page.text)


def test_markup_in_the_title_is_printed_as_text_not_followed(resident) -> None:
    title = '<img src="/etc/passwd">&amp;'
    response = resident.get(f"{BASE}/slip.pdf", params={"amount": "5", "title": title})
    assert response.status_code == 200
    assert title in _pdf_text(response.content)
    page = resident.get(f"{BASE}/slip/print", params={"amount": "5", "title": title})
    assert '<img src="/etc/passwd">' not in page.text
    assert "&lt;img src=&#34;/etc/passwd&#34;&gt;&amp;amp;" in page.text


def test_title_longer_than_the_form_holds_is_refused(resident) -> None:
    page = resident.get(f"{BASE}/slip", params={"kind": "monthly", "title": "x" * 55})
    assert page.status_code == 400
    assert "Tytuł może mieć najwyżej 54 znaki" in _text(page.text)


def test_premises_without_fees_or_arrears_asks_for_an_amount(store, signed_in) -> None:
    publish_documents(store, [make_document(PID, fees=[], ledger=[])])
    page = signed_in(PID).get(f"{BASE}/slip")
    assert page.status_code == 200
    assert "Opłata miesięczna" not in page.text
    assert "Bieżąca zaległość" not in page.text
    assert 'id="kind-other" name="kind" value="other" checked' in page.text


# -- in a real browser: the print view as Chromium prints it --------------------------------------


@pytest.mark.browser
@pytest.mark.skipif(
    not CHROMIUM.exists() or shutil.which("zbarimg") is None,
    reason="needs Debian's chromium, chromium-driver and zbar-tools",
)
@needs_chromium
def test_browser_prints_the_slip_on_one_a4_page_with_a_readable_qr(
    live_server, store, browser, tmp_path: Path
) -> None:
    import base64

    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from portal.accounts.passwords import hash_password

    app, base_url = live_server
    publish_documents(store, [make_document(PID, payer_name=PAYER)])
    app.state.accounts.create(
        "lucja", hash_password("zielona-łąka-47-kwiatowa"), [PID], must_change_password=False
    )
    driver = browser
    driver.get(base_url + "/login")
    driver.find_element(By.ID, "login").send_keys("lucja")
    driver.find_element(By.ID, "password").send_keys("zielona-łąka-47-kwiatowa", Keys.ENTER)
    wait_for_url(driver, lambda u: "/login" not in u)
    driver.get(base_url + BASE + "/slip")
    driver.find_element(By.ID, "kind-other").click()
    driver.find_element(By.ID, "other").send_keys("123,45")
    driver.find_element(By.CSS_SELECTOR, "form.slip-form button[type=submit]").click()
    driver.find_element(By.LINK_TEXT, "Wersja do druku w przeglądarce").click()
    assert "/slip/print?" in wait_for_url(driver, lambda u: "/slip/print?" in u)
    # The strict CSP blocked nothing (no inline style, no inline script on the page).
    problems = [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert problems == []
    pdf = base64.b64decode(driver.print_page())
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1  # both copies on one sheet
    out = decode_qr_codes(pdf, tmp_path)
    expected = qr_payload(
        nip="",
        account="61109010140000071219812874",
        grosze=12345,
        recipient="Wspólnota Mieszkaniowa Kwiatowa 5",
        title="Opłaty za lokal 12, ul. Kwiatowa 5, 11/2026",
    )
    assert out.removesuffix("\n") == expected * 2


def test_community_without_a_valid_account_gets_an_explanation_not_a_slip(store, signed_in):
    publish_documents(store, [make_document(PID, community_account="")])
    client = signed_in(PID)
    response = client.get(f"{BASE}/slip.pdf", params={"amount": "10", "title": "x"})
    assert response.status_code == 400
    assert "brakuje poprawnego numeru rachunku" in _text(response.text)
