"""Validation: the normalised tables, and a clear reason for every bad cell."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.model import MAX_PROBLEMS, BundleRejected, Problem
from etl.reader.bundle import read_bundle
from etl.snapshot.store import SnapshotStore
from tests.builders import make_document, publish_documents
from tests.etl.builders import minimal_tables, write_csv, write_csv_bundle


def problems_of(path: Path, **kwargs) -> list[Problem]:
    with pytest.raises(BundleRejected) as info:
        read_bundle(path, **kwargs)
    return info.value.problems


def where(problems: list[Problem]) -> set[tuple[str, int | None, str]]:
    return {(p.table, p.row, p.column) for p in problems}


def test_minimal_bundle_is_normalised(tmp_path: Path) -> None:
    bundle = read_bundle(write_csv_bundle(tmp_path / "b", minimal_tables()))
    assert bundle.kind == "contract"
    community = bundle.tables["communities"].iloc[0]
    assert community["bank_account"] == "61109010140000071219812874"
    assert community["nip"] == "1234563218"
    assert community["as_of"] == "2026-11-20"
    assert community["fee_notes"] is None
    premises = bundle.tables["premises"].set_index("premises_id")
    first = premises.loc["KW5/1"]
    assert (first["postal_code"], first["city"]) == ("30-001", "Kraków")  # the community's
    assert first["payer_address"] == "ul. Kwiatowa 5/1, 30-001 Kraków"
    assert first["bank_account"] == "10105000997603123456789123"
    assert (first["area_m2"], first["share"], first["occupants"]) == ("54.30", "0.0523", 3)
    assert first["email"] == ""
    assert premises.loc["KW5/G-3", "occupants"] is None
    fees = bundle.tables["fees"]
    # 54,30 m2 × 3,15 zł = 171,045 → 171,05 (half-up, in Decimal)
    assert fees["amount"].tolist() == [17105, 12000]
    assert fees["valid_from"].tolist() == ["2026-01-01", ""]
    allowance = bundle.tables["allowances"].iloc[0]
    assert (allowance["valid_from"], allowance["valid_to"]) == ("2026-01-01", "2026-06-30")
    assert allowance["monthly_amount"] == 25000
    ledger = bundle.tables["ledger"]
    assert ledger["date"].tolist() == ["2026-01-01", "2026-01-10", "2026-01-15", "2026-01-31"]
    assert ledger["details"].isna().all()
    for table, frame in bundle.tables.items():
        assert frame["_file"].iloc[0] == f"{table}.csv"
        assert frame["_row"].iloc[0] == 2


def test_premises_own_address_email_and_payer_address_win(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["premises"][0].update(
        postal_code="31-002",
        city="Wieliczka",
        payer_address="ul. Inna 1, 00-001 Warszawa",
        **{"E-mail": "jan@example.pl"},
    )
    tables["premises"][1].update(postal_code="", city="", payer_address="")
    tables["premises"][1]["E-mail"] = ""
    premises = read_bundle(write_csv_bundle(tmp_path / "b", tables)).tables["premises"]
    assert premises["city"].tolist() == ["Wieliczka", "Kraków"]
    assert premises["payer_address"].tolist() == [
        "ul. Inna 1, 00-001 Warszawa",
        "ul. Kwiatowa 5/G-3, 30-001 Kraków",
    ]
    assert premises["email"].tolist() == ["jan@example.pl", ""]


def test_duplicate_ids_point_at_the_first_occurrence(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["premises"].append(dict(tables["premises"][0], payer_name="Ktoś Inny"))
    tables["communities"].append(dict(tables["communities"][0]))
    problems = problems_of(write_csv_bundle(tmp_path / "b", tables))
    assert where(problems) == {("premises", 4, "premises_id"), ("communities", 3, "community_id")}
    assert all("already in row 2" in p.reason for p in problems)


def test_unknown_references(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["ledger"][1]["premises_id"] = "KW5/99"
    tables["fees"][0]["premises_id"] = "KW5/98"
    tables["allowances"][0]["premises_id"] = "XX"
    tables["premises"][1]["community_id"] = "WM-NOWA"
    problems = problems_of(write_csv_bundle(tmp_path / "b", tables))
    assert where(problems) == {
        ("ledger", 3, "premises_id"),
        ("fees", 2, "premises_id"),
        ("allowances", 2, "premises_id"),
        ("premises", 3, "community_id"),
    }
    reasons = {p.value: p.reason for p in problems}
    assert "unknown premises KW5/99" in reasons["KW5/99"]
    assert "unknown community WM-NOWA" in reasons["WM-NOWA"]


def _published(store: SnapshotStore):
    return publish_documents(
        store,
        [
            make_document("KW5/1", community_id="WM-KW5"),
            make_document("OG/1", community_id="WM-OG", number="1"),
            make_document("OG/2", community_id="WM-OG", number="2"),
        ],
    )


def test_a_ledger_alone_refers_to_published_premises(tmp_path: Path, store) -> None:
    previous = _published(store)
    ledger = write_csv(
        tmp_path / "ledger.csv",
        [
            {"premises_id": "OG/1", "date": "01.02.2026", "description": "Wpłata", "payment": "5"},
            {"premises_id": "OG/3", "date": "01.02.2026", "description": "Wpłata", "payment": "5"},
        ],
    )
    problems = problems_of(ledger, previous=previous)
    assert where(problems) == {("ledger", 3, "premises_id")}
    ledger.write_text(ledger.read_text("utf-8").replace("OG/3", "OG/2"), "utf-8")
    bundle = read_bundle(ledger, previous=previous)
    assert set(bundle.tables) == {"ledger"}
    assert bundle.communities() == set()


def test_premises_of_a_community_in_the_bundle_replace_the_published_ones(
    tmp_path: Path, store
) -> None:
    previous = _published(store)
    tables = minimal_tables()
    # The bundle's premises rows for WM-KW5 replace the published list; KW5/7 was never there.
    tables["ledger"].append(
        {"premises_id": "KW5/7", "date": "01.01.2026", "description": "x", "charge": "1"}
    )
    # A premises row for OG/1 that belongs to WM-OG, which this bundle does not replace.
    tables["premises"].append(dict(tables["premises"][1], premises_id="OG/1", number="X"))
    problems = problems_of(write_csv_bundle(tmp_path / "b", tables), previous=previous)
    assert where(problems) == {("ledger", 6, "premises_id"), ("premises", 4, "premises_id")}
    assert any("already belongs to community WM-OG" in p.reason for p in problems)


def test_premises_of_a_published_community_default_to_its_address(tmp_path: Path, store) -> None:
    previous = publish_documents(store, [make_document("OG/1", community_id="WM-OG")])
    premises = [
        {
            "premises_id": "OG/1",
            "community_id": "WM-OG",
            "number": "1",
            "street": "ul. Ogrodowa 2",
            "payer_name": "Anna Nowak",
        }
    ]
    bundle = read_bundle(write_csv(tmp_path / "lokale.csv", premises), previous=previous)
    row = bundle.tables["premises"].iloc[0]
    assert (row["postal_code"], row["city"]) == ("30-001", "Kraków")
    assert bundle.communities() == {"WM-OG"}


def test_a_ledger_row_with_no_amount(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["ledger"][2]["payment"] = ""
    [problem] = problems_of(write_csv_bundle(tmp_path / "b", tables))
    assert (problem.row, problem.column) == (4, "charge")
    assert "needs a charge or a payment" in problem.reason


def test_unparseable_cells_say_where_and_why(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["ledger"][0]["charge"] = "sto złotych"
    tables["ledger"][1]["date"] = "31.02.2026"
    tables["ledger"][2]["period"] = "luty"
    tables["ledger"][3]["date"] = ""
    tables["fees"][0]["rate"] = "3,15,1"
    tables["allowances"][0]["valid_to"] = "01.01.2025"
    tables["premises"][0]["share"] = "2/1"
    tables["premises"][0]["area_m2"] = "-5"
    tables["premises"][1]["occupants"] = "dwie"
    problems = problems_of(write_csv_bundle(tmp_path / "b", tables))
    found = {(p.table, p.row, p.column): p for p in problems}
    assert set(found) == {
        ("ledger", 2, "charge"),
        ("ledger", 3, "date"),
        ("ledger", 4, "period"),
        ("ledger", 5, "date"),
        ("fees", 2, "rate"),
        ("allowances", 2, "valid_to"),
        ("premises", 2, "share"),
        ("premises", 2, "area_m2"),
        ("premises", 3, "occupants"),
    }
    assert found[("ledger", 2, "charge")].value == "sto złotych"
    assert "not a number" in found[("ledger", 2, "charge")].reason
    assert "no such day" in found[("ledger", 3, "date")].reason
    assert "empty date" in found[("ledger", 5, "date")].reason
    assert "before valid_from" in found[("allowances", 2, "valid_to")].reason
    assert "at most 1" in found[("premises", 2, "share")].reason
    assert "negative" in found[("premises", 2, "area_m2")].reason
    assert "whole number" in found[("premises", 3, "occupants")].reason


def test_invalid_account_numbers_nip_and_postal_code(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["communities"][0].update(
        bank_account="61 1090 1014 0000 0712 1981 2875", nip="1234563219", postal_code="3000"
    )
    tables["premises"][1]["bank_account"] = "PL12"
    tables["premises"][0]["E-mail"] = ""
    tables["premises"][1]["E-mail"] = "bez małpy"
    problems = problems_of(write_csv_bundle(tmp_path / "b", tables))
    found = {(p.table, p.column): p.reason for p in problems}
    assert "check digits" in found[("communities", "bank_account")]
    assert "check digit" in found[("communities", "nip")]
    assert "NN-NNN" in found[("communities", "postal_code")]
    assert "26 digits" in found[("premises", "bank_account")]
    assert "e-mail" in found[("premises", "E-mail")]  # the column as the file heads it


def test_required_cells_must_not_be_empty(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["premises"][0]["payer_name"] = ""
    tables["communities"][0]["bank_account"] = ""
    tables["allowances"][0]["monthly_amount"] = ""
    problems = problems_of(write_csv_bundle(tmp_path / "b", tables))
    assert where(problems) == {
        ("premises", 2, "payer_name"),
        ("communities", 2, "bank_account"),
        ("allowances", 2, "monthly_amount"),
    }


def test_fee_without_amount_nor_quantity_and_rate(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["fees"][0]["rate"] = ""
    [problem] = problems_of(write_csv_bundle(tmp_path / "b", tables))
    assert (problem.table, problem.row, problem.column) == ("fees", 2, "amount")


def test_fee_amounts_worked_out_from_long_quantities_are_exact(tmp_path: Path) -> None:
    """Quantity × rate with more digits than int64 arithmetic holds is worked out in Decimal,
    the others in integers: the same grosze either way."""
    tables = minimal_tables()
    fee = tables["fees"][0]
    tables["fees"] = [
        {**fee, "quantity": "54,30", "rate": "3,15"},
        {**fee, "quantity": "123456789012,345678", "rate": "0,0000001"},
        {**fee, "quantity": "-0,005", "rate": "1"},
        {**fee, "quantity": "9 999 999,99", "rate": "999 999,99"},
        {**fee, "quantity": "   ", "rate": "1"},
        {**fee, "quantity": "29 999 999,99", "rate": "299 999 999"},  # beyond 15 digits of zł
    ]
    for row in tables["fees"]:
        row["amount"] = ""
    problems = problems_of(write_csv_bundle(tmp_path / "b", tables))
    assert where(problems) == {("fees", 6, "amount"), ("fees", 7, "amount")}
    del tables["fees"][4:]
    fees = read_bundle(write_csv_bundle(tmp_path / "c", tables)).tables["fees"]
    assert fees["amount"].tolist() == [17105, 1234568, -1, 999999989000000]


def test_problems_are_capped_but_counted(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["ledger"] = [
        {"premises_id": "KW5/1", "date": "01.01.2026", "description": "x", "charge": "zły"}
    ] * (MAX_PROBLEMS + 50)
    with pytest.raises(BundleRejected) as info:
        read_bundle(write_csv_bundle(tmp_path / "b", tables))
    assert info.value.total == MAX_PROBLEMS + 50
    assert len(info.value.problems) == MAX_PROBLEMS
    assert "and 50 more" in info.value.report()
    assert info.value.problems[-1].row == MAX_PROBLEMS + 1


def test_digits_that_are_not_ascii_are_refused_with_the_parsers_reason(tmp_path: Path) -> None:
    """Arabic-Indic digits (٠-٩) read as numbers by Python's \\d and int(), not by Arrow's:
    each cell is refused with the reason its parser gives, none slips through as 2026-01."""
    tables = minimal_tables()
    tables["communities"][0]["postal_code"] = "٣٠-٠٠١"
    tables["ledger"][1].update(period="٢٠٢٦-٠١", charge="١٢,٥٠")
    tables["ledger"][0]["date"] = "٠١.٠١.٢٠٢٦"
    tables["premises"][0]["occupants"] = "٣"
    problems = problems_of(write_csv_bundle(tmp_path / "b", tables))
    found = {(p.table, p.row, p.column): p.reason for p in problems}
    assert "NN-NNN" in found[("communities", 2, "postal_code")]
    assert "not a month" in found[("ledger", 3, "period")]
    assert "not a number" in found[("ledger", 3, "charge")]
    assert "not a date" in found[("ledger", 2, "date")]
    assert "whole number" in found[("premises", 2, "occupants")]


def test_a_fee_whose_quantity_times_rate_is_too_large_is_a_problem(tmp_path: Path) -> None:
    tables = minimal_tables()
    tables["fees"][0].update(quantity="99999999999999", rate="99999999999,99", amount="")
    tables["fees"][1].update(quantity="1000000000", rate="100000000", amount="")
    with pytest.raises(BundleRejected) as caught:
        read_bundle(write_csv_bundle(tmp_path / "b", tables))
    problems = [(p.table, p.row, p.column, p.reason) for p in caught.value.problems]
    assert problems == [
        ("fees", 2, "amount", "quantity × rate is too large an amount"),
        ("fees", 3, "amount", "quantity × rate is too large an amount"),
    ]
