"""Problems in the accountant's words: columns named as their file heads them (and as the contract
calls them), one problem for one cause, and formula cells that were never computed."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from etl.model import BundleRejected, Problem
from etl.reader import headers
from etl.reader.bundle import read_bundle
from etl.reader.header_checks import MAX_FORMULA_PROBLEMS
from tests.etl.builders import minimal_tables, write_csv, write_csv_bundle, write_xlsx

POLISH_PREMISES = {
    "premises_id": "Id lokalu",
    "community_id": "Wspólnota",
    "number": "Nr lokalu",
    "street": "Ulica",
    "kind": "Rodzaj",
    "area_m2": "Powierzchnia",
    "share": "Udział",
    "occupants": "Liczba osób",
    "payer_name": "Właściciel",
    "bank_account": "Rachunek indywidualny",
}
POLISH_LEDGER = {
    "premises_id": "Id lokalu",
    "date": "Data",
    "description": "Treść",
    "document": "Nr dokumentu",
    "period": "Okres",
    "charge": "Winien",
    "payment": "Ma",
}


def polish(rows: list[dict], names: dict[str, str], drop: tuple[str, ...] = ()) -> list[dict]:
    return [{names[k]: v for k, v in row.items() if k in names and k not in drop} for row in rows]


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(BundleRejected) as info:
        read_bundle(path)
    assert info.value.total == len(info.value.problems)
    return info.value.problems


def polish_bundle(tmp_path: Path, *, drop: tuple[str, ...] = (), ledger: list | None = None):
    tables = minimal_tables()
    premises = polish(tables.pop("premises"), POLISH_PREMISES, drop)
    ledger_rows = polish(ledger or tables.pop("ledger"), POLISH_LEDGER)
    tables.pop("ledger", None)
    d = write_csv_bundle(tmp_path / "b", tables)
    write_csv(d / "lokale.csv", premises)
    write_csv(d / "obroty.csv", ledger_rows)
    return d


# --- column names --------------------------------------------------------------------------


def test_every_polish_label_is_an_accepted_header_of_its_column() -> None:
    aliases = headers.Aliases()
    for table, columns in headers.COLUMNS.items():
        for column in columns:
            label = headers.polish_label(table, column)
            assert aliases.match(table, [label]).columns == {0: column}, (table, column, label)
    assert headers.polish_label("premises", "payer_name") == "Płatnik"
    assert headers.polish_label("premises", "occupants") == "Liczba osób"
    assert headers.polish_label("communities", "city") == "Miejscowość"


def test_a_missing_column_of_a_polish_file_is_named_in_polish(tmp_path: Path) -> None:
    [problem] = problems_of(polish_bundle(tmp_path, drop=("payer_name",)))
    assert (problem.file, problem.table, problem.row, problem.column) == (
        "lokale.csv", "premises", 1, "Płatnik"
    )  # fmt: skip
    assert problem.reason == "required column „Płatnik” (payer_name) is missing"


def test_a_missing_column_of_an_english_file_is_named_by_the_contract(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["premises"] = [
        {k: v for k, v in r.items() if k != "payer_name"} for r in tables["premises"]
    ]
    [problem] = problems_of(write_csv_bundle(tmp_path / "b", tables))
    assert (problem.column, problem.reason) == (
        "payer_name", "required column payer_name is missing"
    )  # fmt: skip


def test_a_bad_value_names_the_column_as_written_and_as_the_contract_calls_it(
    tmp_path: Path,
) -> None:
    ledger = minimal_tables()["ledger"]
    ledger[0]["charge"] = "sto złotych"
    ledger[1]["date"] = "31.02.2026"
    problems = problems_of(polish_bundle(tmp_path, ledger=ledger))
    found = {(p.file, p.row, p.column): p for p in problems}
    assert set(found) == {("obroty.csv", 2, "Winien"), ("obroty.csv", 3, "Data")}
    assert found[("obroty.csv", 2, "Winien")].reason.startswith("„Winien” (charge): ")
    assert "not a number" in found[("obroty.csv", 2, "Winien")].reason
    assert found[("obroty.csv", 3, "Data")].reason.startswith("„Data” (date): ")
    assert str(found[("obroty.csv", 2, "Winien")]).startswith(
        "obroty.csv, ledger, row 2, Winien, 'sto złotych': „Winien” (charge): "
    )


def test_reasons_that_name_columns_use_the_files_names(tmp_path: Path) -> None:
    ledger = minimal_tables()["ledger"]
    ledger[2]["payment"] = ""
    ledger[3]["premises_id"] = ""
    problems = problems_of(polish_bundle(tmp_path, ledger=ledger))
    reasons = {(p.row, p.column): p.reason for p in problems}
    assert reasons == {
        (4, "Winien"): "a ledger row needs a „Winien” (charge) or a „Ma” (payment) "
        "(both are empty)",
        (5, "Id lokalu"): "„Id lokalu” (premises_id) must not be empty",
    }


def test_a_column_given_twice_names_both_headers(tmp_path: Path) -> None:
    ledger = [dict(r, Wn=r["Winien"]) for r in polish(minimal_tables()["ledger"], POLISH_LEDGER)]
    d = polish_bundle(tmp_path)
    write_csv(d / "obroty.csv", ledger)
    [problem] = problems_of(d)
    assert (problem.row, problem.column) == (1, "Wn")
    assert problem.reason == "„Wn” is a second column for charge (besides „Winien”); keep only one"


# --- one cause, one problem ----------------------------------------------------------------


def many_ledger_rows(n: int) -> list[dict]:
    return [
        {"premises_id": "KW5/1", "date": "01.01.2026", "description": "x", "charge": "1,00"}
    ] * n


def test_premises_without_their_id_column_is_one_problem_not_one_per_ledger_row(
    tmp_path: Path,
) -> None:
    d = polish_bundle(tmp_path, drop=("premises_id",), ledger=many_ledger_rows(500))
    [problem] = problems_of(d)
    assert problem.reason == "required column „Id lokalu” (premises_id) is missing"


def test_premises_in_an_unreadable_encoding_is_one_problem(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["ledger"] = many_ledger_rows(300)
    d = write_csv_bundle(tmp_path / "b", tables)
    (d / "premises.csv").write_bytes(b"premises_id;payer_name\r\nKW5/1;W\xb9sowski \xb1\r\n")
    [problem] = problems_of(d)
    assert (problem.file, problem.table) == ("premises.csv", "premises")
    assert "cannot tell the encoding" in problem.reason


def test_communities_without_a_required_column_do_not_make_premises_unknown(
    tmp_path: Path,
) -> None:
    tables = minimal_tables()
    tables["communities"] = [{k: v for k, v in tables["communities"][0].items() if k != "as_of"}]
    [problem] = problems_of(write_csv_bundle(tmp_path / "b", tables))
    assert (problem.table, problem.column) == ("communities", "as_of")


def test_a_premises_row_with_a_bad_value_does_not_cascade(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["premises"][0]["area_m2"] = "dużo"
    tables["ledger"] += many_ledger_rows(100)
    [problem] = problems_of(write_csv_bundle(tmp_path / "b", tables))
    assert (problem.table, problem.row, problem.column) == ("premises", 2, "area_m2")


# --- formula cells without a saved value --------------------------------------------------


LEDGER_SHEET = [
    ["premises_id", "date", "description", "period", "charge", "payment", "ilosc", "cena"],
    ["KW5/1", "01.01.2026", "Bilans otwarcia", "", "100,00", None, None, None],
    ["KW5/1", "10.01.2026", "Naliczenie", "2026-01", "1 234,56", None, None, None],
    ["KW5/1", "15.01.2026", "Wpłata", "", None, "1.000,00", None, None],
    ["KW5/G-3", "31.01.2026", "Woda", "2026-01", "=G5*H5", None, 2, 3],
]


def formula_bundle(tmp_path: Path, sheet: list[list]) -> Path:
    tables = minimal_tables()
    del tables["ledger"]
    d = write_csv_bundle(tmp_path / "b", tables)
    write_xlsx(d / "ledger.xlsx", {"ledger": sheet})
    return d


def rewrite_sheet(path: Path, change) -> None:
    """Edit the first worksheet's XML as Excel would have saved it."""
    with zipfile.ZipFile(path) as zf:
        members = {info: zf.read(info) for info in zf.infolist()}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for info, data in members.items():
            if info.filename == "xl/worksheets/sheet1.xml":
                data = change(data.decode()).encode()
            zf.writestr(info, data)


def test_a_formula_without_a_saved_value_is_refused_with_its_cell(tmp_path: Path) -> None:
    [problem] = problems_of(formula_bundle(tmp_path, LEDGER_SHEET))
    assert (problem.file, problem.table, problem.row, problem.column, problem.value) == (
        "ledger.xlsx[ledger]", "ledger", 5, "charge", "=G5*H5"
    )  # fmt: skip
    assert problem.reason == (
        "formula without a saved value in cell E5; open and save the file in Excel"
    )


def test_a_formula_whose_value_excel_saved_is_read(tmp_path: Path) -> None:
    d = formula_bundle(tmp_path, LEDGER_SHEET)
    rewrite_sheet(
        d / "ledger.xlsx", lambda xml: xml.replace("<f>G5*H5</f><v></v>", "<f>G5*H5</f><v>6</v>")
    )
    ledger = read_bundle(d).tables["ledger"]
    assert ledger["charge"].tolist() == [10000, 123456, 0, 600]


def test_a_formula_that_saved_an_empty_text_is_an_empty_cell(tmp_path: Path) -> None:
    sheet = [row[:] for row in LEDGER_SHEET]
    sheet[4][4], sheet[4][5] = "6", '=""'
    d = formula_bundle(tmp_path, sheet)
    rewrite_sheet(
        d / "ledger.xlsx",
        lambda xml: re.sub(r'<c r="F5"[^>]*><f>""</f><v></v></c>',
                           '<c r="F5" t="str"><f>""</f><v></v></c>', xml),
    )  # fmt: skip
    ledger = read_bundle(d).tables["ledger"]
    assert ledger["payment"].tolist() == [0, 0, 100000, 0]


def test_a_formula_in_an_ignored_column_harms_nothing(tmp_path: Path) -> None:
    sheet = [row[:] for row in LEDGER_SHEET]
    sheet[4][4], sheet[4][6] = "6", "=1+1"
    ledger = read_bundle(formula_bundle(tmp_path, sheet)).tables["ledger"]
    assert ledger["charge"].tolist() == [10000, 123456, 0, 600]


def test_many_unsaved_formulas_are_a_few_addresses_and_a_count(tmp_path: Path) -> None:
    sheet = LEDGER_SHEET[:1] + [
        ["KW5/1", "01.01.2026", "x", "", f"=G{n}*H{n}", None, 1, 2] for n in range(2, 52)
    ]
    problems = problems_of(formula_bundle(tmp_path, sheet))
    assert len(problems) == MAX_FORMULA_PROBLEMS + 1
    assert [p.row for p in problems[:-1]] == list(range(2, 2 + MAX_FORMULA_PROBLEMS))
    assert problems[-1].reason.startswith(f"{50 - MAX_FORMULA_PROBLEMS} more formula cell(s)")
