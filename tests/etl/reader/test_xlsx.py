"""XLSX read with calamine: every kind of cell becomes the text it became with openpyxl, and what
calamine reads as empty (formulas never computed, error cells) is found in the sheet's XML."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pandas as pd
import pytest

from etl.model import BundleRejected, Problem
from etl.reader import xlsx
from etl.reader.bundle import read_bundle
from etl.reader.sheets import Sheet
from tests.etl.builders import minimal_tables, write_csv_bundle, write_xlsx

LEDGER = ["premises_id", "date", "description", "period", "charge", "payment", "ilosc", "cena"]
VALUES = [
    100,
    54.30 * 3.15,  # 171.04499999999998: Excel shows 171,045
    -12.5,
    0.1 + 0.2,
    1234567890123456,
    1e20,
    1.5e-7,
    3.0,
    -0.0,
    datetime(2026, 1, 10),
    datetime(2026, 1, 10, 14, 30),
    date(2026, 2, 3),
    time(12, 0),
    time(13, 14, 15, 500000),
    timedelta(days=1, hours=2),
    True,
    False,
    "  spaced  ",
    "line\nbreak",
    "Zażółć gęślą jaźń",
    "007",
    "",
]
EXPECTED = [
    ("100", True),
    ("171.045", True),
    ("-12.5", True),
    ("0.3", True),
    ("1234567890123456", True),
    ("1e+20", True),
    ("1.5e-07", True),
    ("3", True),
    ("0", True),
    ("2026-01-10", False),
    ("2026-01-10", False),
    ("2026-02-03", False),
    ("12:00:00", False),
    ("13:14:15.500000", False),
    ("1 day, 2:00:00", False),
    ("PRAWDA", False),
    ("FAŁSZ", False),
    ("  spaced  ", False),
    ("line\nbreak", False),
    ("Zażółć gęślą jaźń", False),
    ("007", False),
    ("", False),
]


def rewrite_sheet(path: Path, change, part: str = "xl/worksheets/sheet1.xml") -> Path:
    """Edit a worksheet's XML as another program (or Excel) would have written it."""
    with zipfile.ZipFile(path) as zf:
        members = {info: zf.read(info) for info in zf.infolist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in members.items():
            if info.filename == part:
                data = change(data.decode()).encode()
            zf.writestr(info, data)
    return path


def typed_workbook(path: Path) -> Path:
    """One sheet: a header in B2 (row 1 and column A empty), then a cell of each kind in
    column B, an error cell and an ISO-dated cell written into the XML, and number formats."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "ledger"
    ws.append([None])
    ws.append([None, "value", "other"])
    for value in VALUES:
        ws.append([None, value, "x"])
    for value, number_format in [
        (45000, "dd.mm.yyyy"),
        (45000.75, "d mmmm yyyy"),
        (45000, "[$-415]d mmmm yyyy;@"),
        (0.25, "0%"),
        (45000, "#,##0.00 zł"),
        (1.5, "[h]:mm:ss"),
    ]:
        ws.append([None, value, "x"])
        ws.cell(ws.max_row, 2).number_format = number_format
    wb.save(path)
    extra = (
        '<row r="40"><c r="B40" t="e"><v>#DIV/0!</v></c><c r="C40" t="d">'
        '<v>2026-03-04T00:00:00</v></c><c r="D40" t="str"><f>B3</f><v>txt</v></c></row>'
        '<row r="41"><c r="B41" t="e"><f>1/0</f><v>#N/A</v></c><c r="C41"><f>1+1</f><v>2</v></c>'
        '<c r="D41" t="b"><v>1</v></c></row>'
    )
    return rewrite_sheet(path, lambda xml: xml.replace("</sheetData>", extra + "</sheetData>"))


def read_one(path: Path) -> Sheet:
    [(_, _, sheet)], _ = xlsx.read_workbook(path.name, path.read_bytes(), "ledger")
    return sheet


def cells_of(sheet: Sheet) -> dict[int, list[tuple[str, bool]]]:
    """Spreadsheet row number → (text, was a number) of each cell, blank rows left out."""
    out = {}
    for i, number in enumerate(sheet.rows):
        texts = sheet.frame.iloc[i].tolist()
        if any(texts):
            out[int(number)] = list(zip(texts, sheet.number_cells.iloc[i].tolist(), strict=True))
    return out


def test_cells_become_the_text_excel_shows(tmp_path: Path) -> None:
    sheet = read_one(typed_workbook(tmp_path / "typy.xlsx"))
    assert sheet.header[:3] == ["", "value", "other"]
    got = cells_of(sheet)
    assert [got[row][1] for row in range(3, 3 + len(VALUES))] == EXPECTED
    formats = [got[row][1] for row in range(3 + len(VALUES), 9 + len(VALUES))]
    assert formats == [
        ("2023-03-15", False),
        ("2023-03-15", False),
        ("2023-03-15", False),
        ("0.25", True),
        ("45000", True),
        ("1 day, 12:00:00", False),
    ]
    assert got[40][1:4] == [("#DIV/0!", False), ("2026-03-04", False), ("txt", False)]
    assert got[41][1:4] == [("#N/A", False), ("2", True), ("PRAWDA", False)]


def test_calamine_reads_what_openpyxl_read(tmp_path: Path) -> None:
    path = typed_workbook(tmp_path / "typy.xlsx")
    data = path.read_bytes()
    by_calamine = read_one(path)
    by_openpyxl = xlsx.sheet_from_rows(*xlsx._openpyxl_rows(data, "ledger"))
    width = len(by_openpyxl.header)
    assert by_calamine.header[:width] == by_openpyxl.header
    assert all(h == "" for h in by_calamine.header[width:])
    expected = cells_of(by_openpyxl)
    got = {row: cells[:width] for row, cells in cells_of(by_calamine).items()}
    assert got == expected


def test_the_demo_workbook_reads_alike_with_calamine_and_openpyxl(tmp_path: Path) -> None:
    from etl.demo.generate import generate

    generate(tmp_path, communities=2, premises=40, months=3, seed=7, fmt="xlsx")
    [path] = tmp_path.glob("*.xlsx")
    data = path.read_bytes()
    sheets, _ = xlsx.read_workbook(path.name, data, None)
    assert {table for table, _, _ in sheets} == {
        "communities", "premises", "ledger", "fees", "allowances"
    }  # fmt: skip
    for _, label, sheet in sheets:
        title = label[label.index("[") + 1 : -1]
        old = xlsx.sheet_from_rows(*xlsx._openpyxl_rows(data, title))
        assert sheet.header[: len(old.header)] == old.header
        assert cells_of(sheet) == cells_of(old), title


def ledger_bundle(tmp_path: Path, rows: list[list]) -> Path:
    tables = minimal_tables()
    del tables["ledger"]
    d = write_csv_bundle(tmp_path / "b", tables)
    write_xlsx(d / "ledger.xlsx", {"ledger": [LEDGER, *rows]})
    return d


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(BundleRejected) as info:
        read_bundle(path)
    return info.value.problems


ROWS = [
    ["KW5/1", "01.01.2026", "Bilans otwarcia", "", "100,00", None],
    ["KW5/1", "10.01.2026", "Naliczenie", "2026-01", 12.5, None],
    ["KW5/G-3", "31.01.2026", "Woda", "2026-01", 6, None],
]


def test_an_error_cell_is_its_code_never_an_empty_cell(tmp_path: Path) -> None:
    d = ledger_bundle(tmp_path, ROWS)
    rewrite_sheet(
        d / "ledger.xlsx",
        lambda xml: re.sub(r'<c r="E3"[^>]*><v>12.5</v></c>',
                           '<c r="E3" t="e"><v>#DIV/0!</v></c>', xml),
    )  # fmt: skip
    [problem] = problems_of(d)
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "ledger.xlsx[ledger]", 3, "charge", "#DIV/0!"
    )  # fmt: skip


def test_a_shared_formula_without_a_saved_value_is_refused(tmp_path: Path) -> None:
    rows = [row[:] for row in ROWS]
    rows[1][4], rows[2][4] = "=G3*H3", "=G4*H4"
    d = ledger_bundle(tmp_path, rows)
    rewrite_sheet(
        d / "ledger.xlsx",
        lambda xml: xml.replace("<f>G3*H3</f><v></v>", '<f t="shared" ref="E3:E4" si="0">G3*H3</f>')
        .replace("<f>G4*H4</f><v></v>", '<f t="shared" si="0"/>'),
    )  # fmt: skip
    problems = problems_of(d)
    assert [(p.row, p.value) for p in problems] == [(3, "=G3*H3"), (4, "(a shared formula)")]
    assert problems[1].reason.startswith("formula without a saved value in cell E4")


def test_an_unsaved_formula_past_the_last_value_is_found(tmp_path: Path) -> None:
    rows = [*ROWS, [None, None, None, None, "=1+1", None]]
    [problem] = problems_of(ledger_bundle(tmp_path, rows))
    assert (problem.row, problem.column, problem.value) == (5, "charge", "=1+1")
    assert "in cell E5" in problem.reason


def _prefixed(xml: str) -> str:
    """The sheet as a program using a namespace prefix writes it (<x:c>, <x:f>)."""
    xml = re.sub(r"<(/?)([A-Za-z]+)([\s/>])", r"<\1x:\2\3", xml)
    return xml.replace(
        'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
        'xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main"',
    )


def _without_addresses(xml: str) -> str:
    return re.sub(r'(<c) r="[A-Z]+[0-9]+"', r"\1", xml)


@pytest.mark.parametrize("change", [_prefixed, _without_addresses])
def test_unsaved_formulas_are_found_in_xml_written_other_ways(tmp_path: Path, change) -> None:
    rows = [row[:] for row in ROWS]
    rows[2][4] = "=G4*H4"
    d = ledger_bundle(tmp_path, rows)
    rewrite_sheet(d / "ledger.xlsx", change)
    [problem] = problems_of(d)
    assert (problem.row, problem.column, problem.value) == (4, "charge", "=G4*H4")
    assert "in cell E4" in problem.reason


def test_formulas_excel_computed_are_read_without_openpyxl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [row[:] for row in ROWS]
    rows[2][4] = "=G4*H4"
    d = ledger_bundle(tmp_path, rows)
    rewrite_sheet(d / "ledger.xlsx", lambda xml: xml.replace("<v></v>", "<v>6</v>"))

    def no_openpyxl(*_args):
        raise AssertionError("read cell by cell")

    monkeypatch.setattr(xlsx, "_openpyxl_rows", no_openpyxl)
    ledger = read_bundle(d).tables["ledger"]
    assert ledger["charge"].tolist() == [10000, 1250, 600]


def test_leading_blank_rows_and_columns_keep_spreadsheet_numbers(tmp_path: Path) -> None:
    tables = minimal_tables()
    del tables["ledger"]
    d = write_csv_bundle(tmp_path / "b", tables)
    sheet = [[], [], [None, None, *LEDGER[:6]], *[[None, None, *row] for row in ROWS]]
    write_xlsx(d / "ledger.xlsx", {"ledger": sheet})
    ledger = read_bundle(d).tables["ledger"]
    assert ledger["_row"].tolist() == [4, 5, 6]
    assert ledger["charge"].tolist() == [10000, 1250, 600]


def _zip(members: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, text in members.items():
            zf.writestr(name, text)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "content",
    [
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600),  # an old .xls (OLE2) renamed
        _zip({"mimetype": "application/vnd.oasis.opendocument.spreadsheet", "content.xml": "<a/>"}),
        _zip({"xl/worksheets/sheet1.xml": "<worksheet/>"}),  # no workbook part
        b"hello",
    ],
    ids=["xls", "ods", "no-workbook", "text"],
)
def test_what_is_not_an_xlsx_workbook_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "ledger.xlsx"
    path.write_bytes(content)
    [problem] = problems_of(path)
    assert problem.reason == xlsx.NOT_A_WORKBOOK


def test_number_text_is_what_excel_shows() -> None:
    assert [xlsx.number_text(v) for v in (171.04499999999998, 650.85, 700.0, -0.0)] == [
        "171.045", "650.85", "700", "0"
    ]  # fmt: skip
    assert xlsx.number_text(1.2345678901234567e25) == "1.23456789012346e+25"


def test_a_column_mixing_booleans_and_numbers_keeps_both(tmp_path: Path) -> None:
    texts, numbers = xlsx._column_texts([True, 1.0, "", 0.0, False])
    assert texts == ["PRAWDA", "1", "", "0", "FAŁSZ"]
    assert numbers.tolist() == [False, True, False, True, False]
    frame = pd.Series(texts, dtype="str")
    assert frame.tolist() == texts
