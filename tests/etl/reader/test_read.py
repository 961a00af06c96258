"""Reading bundles: the shapes an export arrives in, and the ones we refuse."""

from __future__ import annotations

import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest

from etl.model import BundleRejected
from etl.reader.archive import MAX_MEMBERS
from etl.reader.bundle import read_bundle
from tests.etl.builders import (
    COMMUNITY_ACCOUNT,
    csv_text,
    minimal_tables,
    write_csv,
    write_csv_bundle,
    write_xlsx,
    write_xlsx_bundle,
    write_zip,
    zip_dir,
)


def rejected(path: Path, **kwargs) -> BundleRejected:
    with pytest.raises(BundleRejected) as info:
        read_bundle(path, **kwargs)
    return info.value


def reasons(exc: BundleRejected) -> str:
    return exc.report()


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1250", "iso-8859-2"])
@pytest.mark.parametrize("sep", [";", ",", "\t"])
def test_encodings_and_separators_are_detected(tmp_path: Path, encoding: str, sep: str) -> None:
    bundle = read_bundle(
        write_csv_bundle(tmp_path / "b", minimal_tables(), encoding=encoding, sep=sep)
    )
    premises = bundle.tables["premises"].set_index("premises_id")
    # ś and Ś are exactly where Windows-1250 and ISO-8859-2 differ.
    assert premises.loc["KW5/G-3", "payer_name"] == "Zofia Ślązak"
    assert bundle.tables["ledger"]["description"].iloc[3] == "Wyrównanie zaliczek"
    assert bundle.tables["fees"]["component"].tolist() == ["Fundusz remontowy", "Woda i ścieki"]
    assert bundle.tables["ledger"]["charge"].tolist() == [10000, 123456, 0, -1200]


def test_cp1250_and_iso_8859_2_are_told_apart_by_polish_letters(tmp_path: Path) -> None:
    rows = [
        {
            "premises_id": "A/1",
            "date": "01.01.2026",
            "description": "Świadczenie źródło ąś",
            "charge": "1,00",
        }
    ]
    for encoding in ("cp1250", "iso-8859-2"):
        d = tmp_path / encoding
        write_csv_bundle(
            d,
            {
                **minimal_tables(),
                "ledger": minimal_tables()["ledger"] + [{**rows[0], "premises_id": "KW5/1"}],
            },
            encoding=encoding,
        )
        ledger = read_bundle(d).tables["ledger"]
        assert ledger["description"].iloc[-1] == "Świadczenie źródło ąś"


def test_utf16_and_unknown_encodings_are_refused(tmp_path: Path) -> None:
    d = write_csv_bundle(tmp_path / "b", minimal_tables())
    (d / "ledger.csv").write_bytes(csv_text(minimal_tables()["ledger"]).encode("utf-16"))
    assert "UTF-16" in reasons(rejected(d))
    # DOS code page 852: bytes undefined in Windows-1250 and control codes in ISO-8859-2.
    (d / "ledger.csv").write_bytes(csv_text(minimal_tables()["ledger"]).encode("cp852"))
    assert "unknown text encoding" in reasons(rejected(d))


def test_utf8_with_stray_bytes_is_refused_not_garbled(tmp_path: Path) -> None:
    d = write_csv_bundle(tmp_path / "b", minimal_tables())
    rows = minimal_tables()["ledger"] * 3
    text = csv_text(rows).encode("utf-8")
    (d / "ledger.csv").write_bytes(text + "KW5/1;01.02.2026;Opłata;;;1,00;\r\n".encode("cp1250"))
    assert "UTF-8 but has invalid bytes (first near line 14)" in reasons(rejected(d))


def test_ids_keep_leading_zeros_and_account_numbers_stay_text(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["premises"][0]["number"] = "007"
    tables["premises"][0]["premises_id"] = "0012"
    for row in tables["ledger"][:3] + tables["fees"] + tables["allowances"]:
        row["premises_id"] = "0012"
    bundle = read_bundle(write_csv_bundle(tmp_path / "b", tables))
    premises = bundle.tables["premises"]
    assert premises["premises_id"].tolist() == ["0012", "KW5/G-3"]
    assert premises["number"].iloc[0] == "007"
    assert bundle.tables["communities"]["bank_account"].iloc[0] == COMMUNITY_ACCOUNT


def test_polish_headers_in_any_spelling(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["ledger"] = [
        {
            " Id-Lokalu ": r["premises_id"],
            "DATA OPERACJI": r["date"],
            "Treść": r["description"],
            "Nr dokumentu": r["document"],
            "okres": r["period"],
            "Winien": r["charge"],
            "Ma": r["payment"],
        }
        for r in tables["ledger"]
    ]
    d = write_csv_bundle(
        tmp_path / "b", tables, names={"ledger": "obroty.csv", "premises": "Lokale.csv"}
    )
    bundle = read_bundle(d)
    assert bundle.tables["ledger"]["payment"].tolist() == [0, 0, 100000, 0]
    assert bundle.tables["ledger"]["document"].tolist() == ["", "N/1", "WB/1", "K/1"]
    assert len(bundle.tables["premises"]) == 2


def test_alias_file_adds_header_names(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["ledger"] = [
        {**{k: v for k, v in r.items() if k != "charge"}, "kwota_wn": r["charge"]}
        for r in tables["ledger"]
    ]
    d = write_csv_bundle(tmp_path / "b", tables)
    exc = rejected(d)  # the charges are not found: those rows have no amount at all
    assert [p.row for p in exc.problems] == [2, 3, 5]
    assert all("needs a charge or a payment" in p.reason for p in exc.problems)
    aliases = tmp_path / "aliases.toml"
    aliases.write_text('[obroty]\ncharge = ["Kwota WN"]\n', "utf-8")
    bundle = read_bundle(d, aliases_file=aliases)
    assert bundle.tables["ledger"]["charge"].tolist() == [10000, 123456, 0, -1200]


def test_a_broken_alias_file_is_reported(tmp_path: Path) -> None:
    d = write_csv_bundle(tmp_path / "b", minimal_tables())
    aliases = tmp_path / "aliases.toml"
    aliases.write_text('[ledger]\nkwota = ["x"]\n', "utf-8")
    assert "not a column of ledger" in reasons(rejected(d, aliases_file=aliases))
    aliases.write_text("[ledger\n", "utf-8")
    assert "not valid TOML" in reasons(rejected(d, aliases_file=aliases))


def test_unknown_columns_are_ignored_with_a_warning(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["ledger"] = [{**r, "Uwagi": "x"} for r in tables["ledger"]]
    bundle = read_bundle(write_csv_bundle(tmp_path / "b", tables))
    assert any("Uwagi" in w for w in bundle.warnings)
    assert "Uwagi" not in bundle.tables["ledger"].columns


def test_blank_rows_and_trailing_empty_columns_are_ignored_rows_keep_their_numbers(
    tmp_path: Path,
) -> None:
    d = write_csv_bundle(tmp_path / "b", minimal_tables())
    text = (
        "premises_id;date;description;charge;payment;;\r\n"
        "KW5/1;01.01.2026;Bilans otwarcia;100,00;;;\r\n"
        "\r\n"
        ";;;;;;\r\n"
        "KW5/1;02.01.2026;Wpłata;;50,00;\r\n"
        "KW5/1;03.01.2026;Zła kwota;abc;;;\r\n"
    )
    (d / "ledger.csv").write_text(text, "utf-8")
    exc = rejected(d)
    [problem] = exc.problems
    assert (problem.file, problem.table, problem.row, problem.column, problem.value) == (
        "ledger.csv",
        "ledger",
        6,
        "charge",
        "abc",
    )
    (d / "ledger.csv").write_text(text.replace("abc", "1,00"), "utf-8")
    ledger = read_bundle(d).tables["ledger"]
    assert ledger["_row"].tolist() == [2, 5, 6]
    assert ledger["payment"].tolist() == [0, 5000, 0]


def test_quoted_cells_with_separators_and_newlines(tmp_path: Path) -> None:
    d = write_csv_bundle(tmp_path / "b", minimal_tables())
    (d / "ledger.csv").write_text(
        "premises_id;date;description;charge\n"
        'KW5/1;01.01.2026;"Opis; z ""cudzysłowem""\ni nową linią";1,00\n'
        "KW5/1;02.01.2026;Drugi;2,00\n",
        "utf-8",
    )
    ledger = read_bundle(d).tables["ledger"]
    assert ledger["description"].iloc[0] == 'Opis; z "cudzysłowem"\ni nową linią'
    assert ledger["_row"].tolist() == [2, 3]


def test_zip_bundle_in_a_folder(tmp_path: Path) -> None:
    d = write_csv_bundle(tmp_path / "export", minimal_tables(), encoding="cp1250")
    z = zip_dir(d, tmp_path / "export.zip", prefix="eksport_2026-11/")
    bundle = read_bundle(z)
    assert set(bundle.tables) == {"communities", "premises", "ledger", "fees", "allowances"}
    assert {s.name for s in bundle.sources} >= {"eksport_2026-11/ledger.csv"}
    assert bundle.tables["ledger"]["_file"].iloc[0] == "eksport_2026-11/ledger.csv"


def test_single_table_file(tmp_path: Path) -> None:
    tables = minimal_tables()
    path = write_csv(tmp_path / "obroty.csv", tables["ledger"])
    # Alone it cannot resolve its premises: nothing is published yet.
    exc = rejected(path)
    assert all("unknown premises" in p.reason for p in exc.problems)
    assert exc.total == 4


def test_workbook_with_one_sheet_per_table_and_typed_cells(tmp_path: Path) -> None:
    tables = minimal_tables()
    ledger = [
        ["Id lokalu", "Data", "Opis", "Okres", "Winien", "Ma"],
        ["KW5/1", datetime(2026, 1, 1), "Bilans otwarcia", "", 100, None],
        ["KW5/1", date(2026, 1, 10), "Naliczenie", datetime(2026, 1, 1), 54.30 * 3.15, None],
        [None, None, None, None, None, None],
        ["KW5/1", "15.01.2026", "Wpłata", "", None, "1 000,00"],
        ["KW5/G-3", datetime(2026, 1, 31), "Korekta", "2026-01", -12.5, None],
    ]
    communities = [dict(tables["communities"][0], bank_account=COMMUNITY_ACCOUNT)]
    path = write_xlsx(
        tmp_path / "eksport.xlsx",
        {
            "Wspólnoty": communities,
            "lokale": tables["premises"],
            "Obroty": ledger,
            "Notatki": [["cokolwiek"]],
        },
    )
    bundle = read_bundle(path)
    got = bundle.tables["ledger"]
    assert got["date"].tolist() == ["2026-01-01", "2026-01-10", "2026-01-15", "2026-01-31"]
    assert got["charge"].tolist() == [10000, 17105, 0, -1250]
    assert got["payment"].tolist() == [0, 0, 100000, 0]
    assert got["period"].tolist() == ["", "2026-01", "", "2026-01"]
    assert got["_row"].tolist() == [2, 3, 5, 6]
    assert got["_file"].iloc[0] == "eksport.xlsx[Obroty]"
    assert any("Notatki" in w for w in bundle.warnings)


def test_xlsx_text_money_with_three_decimals_is_still_an_error(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["ledger"][0]["charge"] = "171,045"
    exc = rejected(write_xlsx_bundle(tmp_path / "b.xlsx", tables))
    assert [p.column for p in exc.problems] == ["charge"]


def test_workbook_named_by_its_table(tmp_path: Path) -> None:
    d = write_csv_bundle(tmp_path / "b", minimal_tables())
    (d / "ledger.csv").unlink()
    write_xlsx(d / "ledger.xlsx", {"Arkusz1": minimal_tables()["ledger"]})
    assert len(read_bundle(d).tables["ledger"]) == 4


def test_account_stored_as_an_xlsx_number_says_so(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["communities"][0]["bank_account"] = int(COMMUNITY_ACCOUNT)
    exc = rejected(write_xlsx_bundle(tmp_path / "b.xlsx", tables))
    assert "format the column as text" in exc.problems[0].reason


def test_not_a_bundle_file(tmp_path: Path) -> None:
    pdf = tmp_path / "wyciag.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    assert "not a CSV, XLSX or ZIP" in reasons(rejected(pdf))
    fake = tmp_path / "export.zip"
    fake.write_text("hello")
    assert "not a readable ZIP" in reasons(rejected(fake))
    fake_xlsx = tmp_path / "eksport.xlsx"
    fake_xlsx.write_text("hello")
    assert "not a readable XLSX" in reasons(rejected(fake_xlsx))
    stray = write_csv(tmp_path / "dane.csv", minimal_tables()["ledger"])
    assert "does not name a table" in reasons(rejected(stray))


def test_empty_bundles(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "empty bundle" in reasons(rejected(empty))
    (empty / "ledger.csv").write_text("premises_id;date;description;charge\n;;;\n", "utf-8")
    assert "empty bundle" in reasons(rejected(empty))
    assert "empty bundle" in reasons(rejected(write_zip(tmp_path / "e.zip", {})))


def test_other_files_in_a_folder_are_ignored_with_a_warning(tmp_path: Path) -> None:
    d = write_csv_bundle(tmp_path / "b", minimal_tables())
    (d / "czytaj.txt").write_text("notatki", "utf-8")
    (d / "wyciag.pdf").write_bytes(b"%PDF")
    bundle = read_bundle(d)
    assert sum("ignored" in w for w in bundle.warnings) == 2


def test_missing_required_columns_and_duplicate_tables(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["ledger"] = [{k: v for k, v in r.items() if k != "date"} for r in tables["ledger"]]
    d = write_csv_bundle(tmp_path / "b", tables)
    write_csv(d / "lokale.csv", minimal_tables()["premises"])
    text = reasons(rejected(d))
    assert "required column date is missing" in text
    assert "table premises given twice" in text


@pytest.mark.parametrize(
    "name",
    ["../evil.csv", "/etc/ledger.csv", "a/../../ledger.csv", "..\\ledger.csv", "C:/ledger.csv"],
)
def test_zip_slip_names_are_refused(tmp_path: Path, name: str) -> None:
    members = {f"{t}.csv": csv_text(rows) for t, rows in minimal_tables().items()}
    members[name] = "x"
    exc = rejected(write_zip(tmp_path / "evil.zip", members))
    assert "unsafe member name" in reasons(exc)
    assert not (tmp_path.parent / "evil.csv").exists()


def test_zip_bomb_is_refused(tmp_path: Path) -> None:
    members = {f"{t}.csv": csv_text(rows) for t, rows in minimal_tables().items()}
    members["ledger.csv"] += "\n" * (5 * 1024**2)  # 5 MB of newlines deflate ~1000:1
    exc = rejected(write_zip(tmp_path / "bomb.zip", members))
    assert "zip bomb" in reasons(exc)


def test_zip_with_too_many_members_or_nested_zip(tmp_path: Path) -> None:
    members = {f"x{i}.txt": "x" for i in range(MAX_MEMBERS + 1)}
    assert "at most" in reasons(rejected(write_zip(tmp_path / "many.zip", members)))
    inner = write_zip(tmp_path / "inner.zip", {"ledger.csv": "a"}).read_bytes()
    assert "ZIP inside" in reasons(
        rejected(write_zip(tmp_path / "outer.zip", {"ledger.zip": inner}))
    )


def test_zip_member_lying_about_its_size_is_refused(tmp_path: Path) -> None:
    members = {f"{t}.csv": csv_text(rows) for t, rows in minimal_tables().items()}
    path = write_zip(tmp_path / "lie.zip", members)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("ledger.csv")
    data = bytearray(path.read_bytes())
    # Declare 10 bytes for ledger.csv in its local header and central directory entry.
    data[info.header_offset + 22 : info.header_offset + 26] = (10).to_bytes(4, "little")
    central = data.find(b"PK\x01\x02")
    while central != -1:
        name_len = int.from_bytes(data[central + 28 : central + 30], "little")
        if data[central + 46 : central + 46 + name_len] == b"ledger.csv":
            data[central + 24 : central + 28] = (10).to_bytes(4, "little")
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))
    assert "damaged ZIP member" in reasons(rejected(path))


def test_encoding_of_a_file_head_cut_inside_a_character() -> None:
    from etl.reader.bundle import detect_encoding

    text = ("Zażółć gęślą jaźń;" * 100).encode("utf-8")
    cut = next(n for n in range(50, 80) if text[n - 1] >= 0xC0)  # ends on a lead byte
    assert detect_encoding(text[:cut], "ledger.csv", complete=False) == "utf-8"
    assert detect_encoding(("Zażółć gęślą jaźń;" * 100).encode("cp1250"), "x") == "cp1250"
    assert detect_encoding(("Zażółć gęślą jaźń;" * 100).encode("iso-8859-2"), "x") == "iso-8859-2"


def test_a_whole_file_whose_only_polish_letter_is_o_acute_is_not_utf8() -> None:
    from etl.reader.bundle import detect_encoding

    # ó is 0xF3 in both 8-bit code pages: a UTF-8 lead byte with nothing after it.
    data = "id;organ\nKW5/12;Urząd Gminy Bór\n".replace("ą", "a").encode("iso-8859-2")
    assert detect_encoding(data, "dodatki.csv") in {"cp1250", "iso-8859-2"}


@pytest.mark.parametrize(
    ("text", "rows"),
    [
        ("a;b\r\n1;2\r\n\r\n3;4\r\n\r\n\r\n", [["1", "2", 2], ["3", "4", 4]]),
        ("a;b\n1;2\n\n\n3;4\n5;6", [["1", "2", 2], ["3", "4", 5], ["5", "6", 6]]),
        ('a;b\n"x\n\ny";2\n\n3;4\n', [["x\n\ny", "2", 2], ["3", "4", 4]]),
        ("a;b\n1;2;;\n3;4\n", [["1", "2", 2], ["3", "4", 3]]),
    ],
)
def test_csv_rows_keep_their_spreadsheet_numbers(text: str, rows: list) -> None:
    from etl.reader.sheets import read_csv_bytes

    header, frame, numbers = read_csv_bytes("x.csv", text.encode("cp1250"))
    assert header[:2] == ["a", "b"]
    got = [[a, b, int(n)] for a, b, n in zip(frame["c0"], frame["c1"], numbers, strict=True)]
    assert [r for r in got if r[0] or r[1]] == rows


def test_oversized_bundles_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from etl.reader import archive

    d = write_csv_bundle(tmp_path / "b", minimal_tables())
    z = zip_dir(d, tmp_path / "b.zip")
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 500)
    assert "at most 500" in reasons(rejected(z))
    assert "more than 500 bytes" in reasons(rejected(d))
    big = write_csv(tmp_path / "ledger.csv", minimal_tables()["ledger"] * 5)
    assert "larger than 500 bytes" in reasons(rejected(big))
