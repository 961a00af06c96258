"""Text encodings: a Windows-1250 or ISO-8859-2 file is read with the code page that yields
Polish text, or refused with both readings; never a silently misread letter."""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pytest

from etl.model import BundleRejected
from etl.reader import encoding
from etl.reader.bundle import read_bundle
from etl.reader.encoding import EncodingRefused, choose_encoding
from tests.etl.builders import minimal_tables, write_csv, write_csv_bundle

POLISH = "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ"
CODE_PAGES = ("cp1250", "iso-8859-2")


def name_with(letter: str) -> str:
    """A payer name whose only non-ASCII letter is `letter` (`Wąsowski`, `WĄsowski`)."""
    return f"W{letter}sowski"


def read_or_refuse(data: bytes) -> tuple[str, str]:
    """("read", text) or ("refused", reason)."""
    try:
        return "read", data.decode(choose_encoding(data, "lokale.csv"))
    except EncodingRefused as exc:
        return "refused", exc.reason


# --- the scoring table -------------------------------------------------------------------


def test_scoring_is_built_from_the_codecs_byte_by_byte() -> None:
    for byte in range(0x80, 0x100):
        chars = {}
        for enc in CODE_PAGES:
            try:
                chars[enc] = bytes([byte]).decode(enc)
            except UnicodeDecodeError:
                chars[enc] = None
        differ = chars["cp1250"] != chars["iso-8859-2"]
        assert (byte in encoding.DIFFERING) == differ, hex(byte)
        for enc in CODE_PAGES:
            char = chars[enc]
            weight, out = int(encoding.WEIGHTS[enc][byte]), bool(encoding.RULED_OUT[enc][byte])
            if not differ:
                assert (weight, out) == (0, False)
            elif char is None or unicodedata.category(char) == "Cc":
                assert out, (hex(byte), enc)
            elif char in POLISH:
                assert weight == 1, (hex(byte), enc, char)
            else:
                assert weight <= 0, (hex(byte), enc, char)
    # The byte facts the reader's decisions rest on.
    assert encoding.WEIGHTS["cp1250"][0xB9] == 1 and encoding.WEIGHTS["iso-8859-2"][0xB9] == -1
    assert encoding.WEIGHTS["cp1250"][0xB1] == -1 and encoding.WEIGHTS["iso-8859-2"][0xB1] == 1
    assert all(encoding.RULED_OUT["iso-8859-2"][b] for b in (0x9C, 0x9F, 0x8C, 0x8F))
    assert encoding.WEIGHTS["cp1250"][0xBC] == -1  # Ľ where ISO-8859-2 has ź


# --- every Polish letter alone -------------------------------------------------------------


@pytest.mark.parametrize("code_page", CODE_PAGES)
@pytest.mark.parametrize("letter", list(POLISH))
def test_each_polish_letter_alone_is_read_correctly(letter: str, code_page: str) -> None:
    name = name_with(letter)
    data = f"id;platnik\r\nA/1;{name}\r\nA/2;Jan Nowak\r\n".encode(code_page)
    outcome, text = read_or_refuse(data)
    assert outcome == "read"  # one letter of evidence decides: the other reading is not Polish
    assert name in text


@pytest.mark.parametrize("code_page", CODE_PAGES)
@pytest.mark.parametrize("letter", list(POLISH))
def test_each_polish_letter_alone_in_a_csv_bundle(
    tmp_path: Path, letter: str, code_page: str
) -> None:
    tables = minimal_tables()
    for row in tables["premises"]:
        row["kind"] = "mieszkalny"
    tables["premises"][0]["payer_name"] = name_with(letter)
    tables["premises"][1]["payer_name"] = "Zofia Nowak"
    premises = tables.pop("premises")
    d = write_csv_bundle(tmp_path / "b", tables)
    write_csv(d / "lokale.csv", premises, encoding=code_page)
    try:
        bundle = read_bundle(d)
    except BundleRejected as exc:  # allowed only as a refusal showing both readings
        (problem,) = exc.problems
        assert problem.file == "lokale.csv"
        assert name_with(letter) in problem.reason
        pytest.fail(f"refused, though one letter decides: {problem.reason}")
    payers = bundle.tables["premises"]["payer_name"].tolist()
    assert payers == [name_with(letter), "Zofia Nowak"]


# --- mixed files ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code_page"),
    [
        ("Wąsowski;Śliwa", "cp1250"),
        ("Wąsowski;Śliwa", "iso-8859-2"),
        ("Zażółć gęślą jaźń", "cp1250"),
        ("Zażółć gęślą jaźń", "iso-8859-2"),
        ("Opłata „media” – woda", "cp1250"),  # typographic quotes and dash: C1 in ISO-8859-2
        ("Šťastný Wąsowski", "cp1250"),  # a Czech name does not make it ISO-8859-2
        ("Zaliczka ±5% Wąsowski Ślęzak", "cp1250"),  # two letters outweigh one ±
        ("Wąsowski © 2026", "cp1250"),  # © is a symbol, Š a letter Polish does not use
        ("Kowalski Jan, Łódź", "cp1250"),  # ł ó ź: ź differs and decides
        ("Kowalski Jan, Łódź", "iso-8859-2"),
    ],
)
def test_mixed_files_decide_by_their_polish_letters(text: str, code_page: str) -> None:
    data = f"id;opis\n1;{text}\n".encode(code_page)
    assert choose_encoding(data, "x.csv") == code_page


def test_letters_both_code_pages_share_read_the_same_either_way() -> None:
    data = "Kraków, Żółć, łęczna, Ćma, Ńo".encode("cp1250")
    assert data == "Kraków, Żółć, łęczna, Ćma, Ńo".encode("iso-8859-2")
    assert data.decode(choose_encoding(data, "x.csv")) == "Kraków, Żółć, łęczna, Ćma, Ńo"


@pytest.mark.parametrize(
    ("data", "as_cp", "as_iso", "line"),
    [
        # ą as Windows-1250 writes it, and a ± (ą in ISO-8859-2) elsewhere: one letter each.
        ("id;platnik\nA/1;Wąsowski\nA/2;±0,5\n".encode("cp1250"), "Wąsowski", "Wšsowski", 2),
        # µ and ľ are both foreign to Polish.
        ("id;opis\nA/1;5 µm\n".encode("cp1250"), "µm", "ľm", 2),
    ],
)
def test_equally_plausible_readings_are_refused_with_both(
    data: bytes, as_cp: str, as_iso: str, line: int
) -> None:
    with pytest.raises(EncodingRefused) as info:
        choose_encoding(data, "lokale.csv")
    assert info.value.name == "lokale.csv"
    assert info.value.reason == (
        f'cannot tell the encoding: "{as_cp}" (Windows-1250) or "{as_iso}" (ISO-8859-2) '
        f"in line {line}; save the file as UTF-8"
    )


def test_an_ambiguous_csv_file_rejects_the_bundle_naming_it(tmp_path: Path) -> None:
    tables = minimal_tables()
    for row in tables["premises"]:
        row["kind"] = "mieszkalny"
    tables["premises"][0]["payer_name"] = "Wąsowski"
    tables["premises"][1]["payer_name"] = "Nowak ± Kowalski"
    premises = tables.pop("premises")
    d = write_csv_bundle(tmp_path / "b", tables)
    write_csv(d / "lokale.csv", premises, encoding="cp1250")
    with pytest.raises(BundleRejected) as info:
        read_bundle(d)
    (problem,) = info.value.problems  # one cause: the ledger's premises are not "unknown"
    assert (problem.file, problem.table) == ("lokale.csv", "premises")
    assert '"Wąsowski" (Windows-1250) or "Wšsowski" (ISO-8859-2)' in problem.reason


def test_the_whole_file_decides_not_its_head() -> None:
    # 100 kB of ASCII, then the only letters: a head-only decision would see none.
    body = "A/1;Nowak\n" * 10_000
    for code_page in CODE_PAGES:
        data = f"id;platnik\n{body}A/2;Wąsowski Ślęzak\n".encode(code_page)
        assert choose_encoding(data, "lokale.csv") == code_page


def test_decode_refuses_utf8_split_by_ascii() -> None:
    # The non-ASCII bytes alone are valid UTF-8 (ł), but an ASCII byte sits inside the letter.
    with pytest.raises(EncodingRefused, match="not valid UTF-8"):
        encoding.decode(b"id\nK\xc5x\x82\n", "lok.txt")
