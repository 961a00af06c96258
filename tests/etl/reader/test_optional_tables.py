"""Meter readings and announcements: their aliases, exact decimals and what is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.model import BundleRejected, Problem
from etl.reader import headers, optional_tables
from etl.reader.bundle import read_bundle
from etl.snapshot.document import DOCUMENT_KINDS, METER_KINDS
from tests.etl.builders import minimal_tables, write_csv_bundle
from tests.etl.optional_builders import announcements, readings


def problems_of(path: Path) -> list[Problem]:
    with pytest.raises(BundleRejected) as info:
        read_bundle(path)
    return info.value.problems


def with_table(tmp_path: Path, name: str, rows: list[dict]) -> Path:
    tables = minimal_tables()
    tables[name] = rows
    return write_csv_bundle(tmp_path / "b", tables)


def test_the_tables_are_named_in_polish_or_english() -> None:
    for name, table in [("Odczyty liczników", "readings"), ("readings", "readings"),
                        ("Ogłoszenia", "announcements"), ("komunikaty", "announcements"),
                        ("Dokumenty", "documents"), ("documents", "documents")]:  # fmt: skip
        assert headers.table_for(name) == table


def test_the_importers_vocabularies_are_the_contracts() -> None:
    assert tuple(optional_tables.METER_ALIASES) == METER_KINDS
    assert tuple(optional_tables.DOCUMENT_KIND_ALIASES) == DOCUMENT_KINDS
    assert set(optional_tables.DEFAULT_UNITS) == set(METER_KINDS)


def test_readings_are_exact_decimals_with_consumption_worked_out(tmp_path: Path) -> None:
    bundle = read_bundle(with_table(tmp_path, "odczyty", readings()))
    rows = bundle.tables["readings"].drop(columns=["_file"]).to_dict("records")
    assert rows == [
        {"premises_id": "KW5/1", "meter": "cold_water", "serial": "ZW-1", "date": "2026-01-31",
         "reading": "100.125", "unit": "m³", "consumption": "", "_row": 2},
        # 103,5 − 100,125 = 3,375 exactly (a float gives 3.375000000000014)
        {"premises_id": "KW5/1", "meter": "cold_water", "serial": "ZW-1", "date": "2026-02-28",
         "reading": "103.5", "unit": "m³", "consumption": "3.375", "_row": 3},
        {"premises_id": "KW5/1", "meter": "hot_water", "serial": "CW-7", "date": "2026-02-28",
         "reading": "1204.1", "unit": "m³", "consumption": "1.1", "_row": 4},
        {"premises_id": "KW5/1", "meter": "heat", "serial": "CO-3", "date": "2026-02-28",
         "reading": "12.345", "unit": "GJ", "consumption": "0.75", "_row": 5},
    ]  # fmt: skip


def test_a_reading_below_the_previous_one_needs_a_new_serial_or_its_consumption(
    tmp_path: Path,
) -> None:
    rows = readings()
    rows[1]["Odczyt"] = "99"
    [problem] = problems_of(with_table(tmp_path, "odczyty", rows))
    assert (problem.row, problem.column, problem.value) == (3, "Odczyt", "99")
    assert problem.reason == (
        "„Odczyt” (reading): lower than the meter's previous reading 100.125 of 2026-01-31 "
        "(row 2); a replaced meter needs its new serial number, a corrected reading its "
        "consumption"
    )
    rows[1]["Nr licznika"] = "ZW-2"  # a new meter
    assert read_bundle(with_table(tmp_path / "2", "odczyty", rows))


def test_bad_readings_are_refused_one_problem_each(tmp_path: Path) -> None:
    rows = readings()
    rows[0]["Licznik"] = "prąd"
    rows[1]["Odczyt"] = "-3"
    rows[2]["Zużycie"] = "jeden"
    rows[3]["Data odczytu"] = "31.02.2026"
    rows.append(dict(readings()[2]))  # the same meter, the same day
    rows.append({**readings()[0], "ID lokalu": "KW5/99"})
    found = {
        (p.row, p.column): p.reason for p in problems_of(with_table(tmp_path, "odczyty", rows))
    }
    assert found == {
        (2, "Licznik"): "„Licznik” (meter): not a meter this portal knows (zimna woda, ciepła "
        "woda, ciepło or gaz)",
        (3, "Odczyt"): "„Odczyt” (reading): cannot be negative",
        (4, "Zużycie"): "„Zużycie” (consumption): not a number (expected e.g. 1234,56 or "
        "1 234,56 or -12,00)",
        (5, "Data odczytu"): "„Data odczytu” (date): no such day in the calendar",
        (6, "Data odczytu"): "„Data odczytu” (date): a second reading of this meter on this "
        "day (the first is in row 4)",
        (7, "ID lokalu"): "„ID lokalu” (premises_id): unknown premises KW5/99: not in this "
        "export's premises nor published",
    }


def test_a_readings_file_without_a_required_column_is_one_problem(tmp_path: Path) -> None:
    rows = [{k: v for k, v in r.items() if k != "Odczyt"} for r in readings()]
    [problem] = problems_of(with_table(tmp_path, "odczyty", rows))
    assert problem.reason == "required column „Odczyt” (reading) is missing"


def test_announcements_keep_their_text_as_written(tmp_path: Path) -> None:
    rows = announcements()
    rows[0]["Treść"] = "Pierwszy akapit.\r\n\r\nDrugi <script>x</script>"
    bundle = read_bundle(with_table(tmp_path, "ogloszenia", rows))
    records = bundle.tables["announcements"].drop(columns=["_file", "_row"]).to_dict("records")
    assert records == [
        {"community_id": "WM-KW5", "valid_from": "2026-11-01", "valid_to": "",
         "title": "Przegląd <b>gazowy</b>", "text": "Pierwszy akapit.\n\nDrugi <script>x</script>"},
        {"community_id": "WM-KW5", "valid_from": "2026-01-01", "valid_to": "2026-01-31",
         "title": "Stare", "text": ""},
    ]  # fmt: skip


def test_bad_announcements_are_refused(tmp_path: Path) -> None:
    rows = announcements()
    rows[0]["Ważne do"] = "31.10.2026"
    rows[1]["Tytuł"] = "x" * 201
    rows.append({**announcements()[1], "ID wspólnoty": "WM-INNA", "Ważne od": ""})
    found = {
        (p.row, p.column): p.reason for p in problems_of(with_table(tmp_path, "ogloszenia", rows))
    }
    assert found == {
        (2, "Ważne do"): "„Ważne do” (valid_to) is before „Ważne od” (valid_from)",
        (3, "Tytuł"): "„Tytuł” (title): 201 characters; at most 200",
        (4, "Ważne od"): "„Ważne od” (valid_from): empty date",
        (4, "ID wspólnoty"): "„ID wspólnoty” (community_id): unknown community WM-INNA: not in "
        "communities nor published",
    }
