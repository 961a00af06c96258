"""What a payment slip says: the amount as typed, in words as banks expect it, the account in
NRB groups, the title, and the QR payload a banking app reads."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from etl.snapshot.accounts import group_nrb
from portal.slips.form import (
    QR_MAX_LENGTH,
    TITLE_MAX,
    AmountError,
    NoAccountError,
    TitleError,
    amount_in_words,
    arrears,
    box_lines,
    build_slip,
    clean_title,
    default_amount,
    default_title,
    parse_amount,
    payee_account,
    qr_payload,
)
from portal.slips.qr import qr_png, qr_svg
from tests.builders import ledger_row, make_document

ACCOUNT = "61109010140000071219812874"
OWN_ACCOUNT = "PL27 1140 2004 0000 3002 0135 5387"


@pytest.mark.parametrize(
    ("typed", "grosze"),
    [
        ("123,45", 12345),
        ("123.45", 12345),
        ("123,4", 12340),
        ("0,01", 1),
        ("1", 100),
        (" 1 234,56 ", 123456),
        ("1\u00a0234,56 zł", 123456),
        ("99999999,99", 9_999_999_999),
        ("000000000012,30", 1230),
    ],
)
def test_amounts_residents_type_are_read_exactly(typed: str, grosze: int) -> None:
    assert parse_amount(typed) == grosze


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("0", "większa od zera"),
        ("0,00", "większa od zera"),
        ("-1", "większa od zera"),
        ("1,234", "dwa miejsca po przecinku"),
        ("12.345", "dwa miejsca po przecinku"),
        ("100000000", "najwyżej 99 999 999,99 zł"),
        ("abc", "liczbą"),
        ("1e3", "liczbą"),
        ("１２３", "liczbą"),  # full-width digits: not what a bank form takes
        ("9" * 5000, "najwyżej 99 999 999,99 zł"),
        ("1,2,3", "liczbą"),
        ("", "Podaj kwotę"),
    ],
)
def test_bad_amounts_are_refused_in_polish(typed: str, message: str) -> None:
    with pytest.raises(AmountError, match=message):
        parse_amount(typed)


@pytest.mark.parametrize(
    ("grosze", "words"),
    [
        (1, "zero złotych 01/100"),
        (100, "jeden złoty 00/100"),
        (200, "dwa złote 00/100"),
        (500, "pięć złotych 00/100"),
        (1200, "dwanaście złotych 00/100"),
        (2100, "dwadzieścia jeden złotych 00/100"),
        (2200, "dwadzieścia dwa złote 00/100"),
        (10100, "sto jeden złotych 00/100"),
        (12345, "sto dwadzieścia trzy złote 45/100"),
        (100000, "jeden tysiąc złotych 00/100"),
        (100000000, "jeden milion złotych 00/100"),
        (123456, "jeden tysiąc dwieście trzydzieści cztery złote 56/100"),
        (
            9_999_999_999,
            "dziewięćdziesiąt dziewięć milionów dziewięćset dziewięćdziesiąt dziewięć tysięcy "
            "dziewięćset dziewięćdziesiąt dziewięć złotych 99/100",
        ),
    ],
)
def test_amount_in_words_is_the_bank_form(grosze: int, words: str) -> None:
    assert amount_in_words(grosze) == words


def test_nrb_is_grouped_two_then_fours() -> None:
    assert group_nrb(ACCOUNT) == "61 1090 1014 0000 0712 1981 2874"


def test_individual_account_is_used_when_the_premises_has_a_valid_one() -> None:
    assert payee_account(make_document(bank_account=OWN_ACCOUNT)) == ("27114020040000300201355387")
    assert payee_account(make_document(bank_account="")) == ACCOUNT
    # A mistyped individual account (bad check digits) must not receive the money.
    assert payee_account(make_document(bank_account="27114020040000300201355388")) == ACCOUNT


def test_no_valid_account_anywhere_is_a_clear_error() -> None:
    doc = make_document(community_account="12345")
    with pytest.raises(NoAccountError, match="numeru rachunku"):
        build_slip(doc, 100, "x")


def test_default_title_names_the_premises_and_the_month_of_the_data() -> None:
    doc = make_document(as_of="2026-11-20")
    assert default_title(doc) == "Opłaty za lokal 12, ul. Kwiatowa 5, 11/2026"


def test_default_title_always_fits_the_form() -> None:
    doc = make_document(street="ul. Generała Władysława Andersa-Sikorskiego 115", number="123A")
    title = default_title(doc)
    assert len(title) <= TITLE_MAX
    assert title == "Opłaty za lokal 123A, 11/2026"


def test_title_is_cleaned_and_limited() -> None:
    assert clean_title("  Opłata\x00 za\tlokal\n12 ") == "Opłata za lokal 12"
    with pytest.raises(TitleError, match="Podaj tytuł"):
        clean_title(" \x07 ")
    with pytest.raises(TitleError, match=f"najwyżej {TITLE_MAX}"):
        clean_title("x" * (TITLE_MAX + 1))


def test_default_amount_is_the_monthly_charge_and_arrears_are_minus_balance() -> None:
    doc = make_document()
    assert default_amount(doc) == 11403 + 17105
    assert doc["totals"]["balance"] == 40000 - 55000
    assert arrears(doc) == 15000
    paid_up = make_document(ledger=[ledger_row("2026-01-01", "Wpłata", payment=500)])
    assert arrears(paid_up) == 0


def test_qr_payload_has_the_zbp_fields() -> None:
    payload = qr_payload(
        nip="526-025-02-74",
        account=ACCOUNT,
        grosze=12345,
        recipient="Wspólnota Mieszkaniowa Kwiatowa 5",
        title="Opłaty za lokal 12, ul. Kwiatowa 5, 11/2026",
    )
    assert payload == (
        "5260250274|PL|61109010140000071219812874|012345|Wspólnota Mieszkanio"
        "|Opłaty za lokal 12, ul. Kwiatowa|||"
    )


def test_qr_payload_limits() -> None:
    payload = qr_payload(
        nip="",
        account=ACCOUNT,
        grosze=1_000_000,  # 10 000,00 zł: more than six digits of grosze
        recipient="A|B" + "x" * 50,
        title="Czynsz | listopad" + "y" * 100,
    )
    fields = payload.split("|")
    assert len(fields) == 9
    assert fields[0] == ""
    assert fields[3] == "000000"
    assert fields[4] == ("A B" + "x" * 50)[:20]
    assert fields[5] == ("Czynsz listopad" + "y" * 100)[:32]
    assert fields[6:] == ["", "", ""]
    assert len(payload) <= QR_MAX_LENGTH
    assert (
        qr_payload(nip="", account=ACCOUNT, grosze=999_999, recipient="a", title="b").split("|")[3]
        == "999999"
    )
    # A NIP that is not ten digits is left out rather than sent wrong.
    assert qr_payload(nip="123", account=ACCOUNT, grosze=1, recipient="a", title="b")[0] == "|"


def test_box_lines_put_the_name_first_and_fit_27_characters() -> None:
    assert box_lines(["Łucja Źdźbło-Żółkiewska", "ul. Kwiatowa 5/12, 30-001 Kraków"], 2) == [
        "Łucja Źdźbło-Żółkiewska",
        "ul. Kwiatowa 5/12, 30-001",
    ]
    assert box_lines(["Wspólnota Mieszkaniowa Kwiatowa 5", "ul. Kwiatowa 5"], 2) == [
        "Wspólnota Mieszkaniowa",
        "Kwiatowa 5",
    ]
    assert box_lines(["Jan", ""], 2) == ["Jan", ""]


def test_build_slip_fills_every_field() -> None:
    doc = make_document(payer_name="Łucja Źdźbło-Żółkiewska")
    slip = build_slip(doc, 12345, "Opłaty 11/2026")
    assert slip.account_grouped == "61 1090 1014 0000 0712 1981 2874"
    assert slip.amount == "123,45"
    assert slip.amount_words == "sto dwadzieścia trzy złote 45/100"
    assert slip.payer_lines[0] == "Łucja Źdźbło-Żółkiewska"
    assert slip.recipient_address == "ul. Kwiatowa 5, 30-001 Kraków"
    assert slip.qr_payload == (
        "|PL|61109010140000071219812874|012345|Wspólnota Mieszkanio|Opłaty 11/2026|||"
    )


def _zbar(path: Path) -> str:
    # zbar guesses a text encoding and takes UTF-8 for Shift-JIS; ask for the raw bytes.
    out = subprocess.run(
        ["zbarimg", "--quiet", "--raw", "-Sbinary", str(path)], check=True, capture_output=True
    ).stdout
    return out.decode("utf-8").removesuffix("\n")


@pytest.mark.skipif(shutil.which("zbarimg") is None, reason="zbar-tools not installed")
def test_qr_png_decodes_to_exactly_the_payload(tmp_path: Path) -> None:
    payload = qr_payload(
        nip="5260250274",
        account=ACCOUNT,
        grosze=12345,
        recipient="Wspólnota Źdźbło",
        title="Opłaty za lokal 12, 11/2026",
    )
    path = tmp_path / "qr.png"
    path.write_bytes(qr_png(payload))
    assert _zbar(path) == payload


def test_qr_svg_is_inline_svg_without_style_attributes() -> None:
    svg = qr_svg("abc")
    assert svg.startswith("<svg")
    assert "style=" not in svg
    assert "<script" not in svg
