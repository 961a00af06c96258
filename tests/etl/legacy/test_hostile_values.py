"""Hostile values in a legacy export are refused with a problem naming file, line, field and
value, never a traceback: a year 0000, amounts beyond what a ledger holds, digits that are not
ASCII (`²`, Arabic-Indic, fullwidth: `str.isdigit()` and `\\d` take them, the export's digits
are 0-9), quantities too large to multiply. Nothing is published from such an export."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.legacy import reader as legacy
from etl.model import BundleRejected
from etl.snapshot.store import SnapshotStore
from tests.builders import ledger_row, make_document, publish_documents
from tests.etl.legacy_builders import Charge, communities_toml, klonowa

P1, P3 = "KLO11-KLO11-00000-00001M", "KLO11-KLO11-00000-00004M"
WPL, NAL, POW, LOK = (f"KLO11/{n}" for n in ("wplaty.txt", "nal_czynsz.txt", "pow_czynsz.txt",
                                             "lok.txt"))  # fmt: skip
HUGE_TEXT = "99999999999999999999,99"
HUGE = int(HUGE_TEXT.replace(",", ""))  # grosze, far beyond int64


def edit(folder: Path, name: str, line: int, field: int, value: str) -> None:
    """Field `field` (0-based) of line `line` (1-based) of the file set to `value`; the file is
    saved as UTF-8, as an editor re-saves it (ISO-8859-2 has no `²` nor Arabic digits)."""
    path = folder / name
    lines = path.read_bytes().decode("iso-8859-2").split("\r\n")
    parts = lines[line - 1].split("#")
    parts[field] = value
    lines[line - 1] = "#".join(parts)
    path.write_bytes("\r\n".join(lines).encode("utf-8"))


def problems(folder: Path, toml: Path, **kwargs) -> set[tuple[str, int | None, str, str]]:
    with pytest.raises(BundleRejected) as info:
        legacy.read_legacy(folder, communities_file=toml, **kwargs)
    return {(p.file, p.row, p.column, p.value) for p in info.value.problems}


def reasons(folder: Path, toml: Path) -> dict[tuple[str, int | None, str], str]:
    with pytest.raises(BundleRejected) as info:
        legacy.read_legacy(folder, communities_file=toml)
    return {(p.file, p.row, p.column): p.reason for p in info.value.problems}


# --- a year 0000 --------------------------------------------------------------------------


@pytest.mark.parametrize("dates", [("", ""), ("01/01/2026", "31/12/2026")])
def test_a_card_of_the_year_0000_is_refused_with_its_year(tmp_path, toml, dates):
    folder = klonowa().write(tmp_path / "inbox")
    edit(folder, "wplaty.txt", 1, 2, "0000")
    edit(folder, "wplaty.txt", 1, 3, dates[0])  # empty: 1 January of the card's year
    edit(folder, "wplaty.txt", 1, 4, dates[1])
    found = reasons(folder, toml)
    assert list(found) == [(WPL, 1, "year")]
    assert "0000" in found[(WPL, 1, "year")] and P1 in found[(WPL, 1, "year")]


def test_a_period_of_the_year_0000_is_refused(tmp_path, toml):
    folder = klonowa().write(tmp_path / "inbox")
    edit(folder, "nal_czynsz.txt", 1, 4, "000001")
    found = reasons(folder, toml)
    assert found[(NAL, 1, "period")].startswith("not a period YYYYMM")


# --- amounts beyond a ledger's ------------------------------------------------------------


def test_a_huge_amount_on_a_card_that_adds_up_is_refused_not_a_crash(tmp_path, toml):
    export = klonowa()
    export.cards[0].opening_surplus = HUGE  # the builder makes the closing agree with it
    export.cards[1].payments[1] = HUGE
    found = reasons(export.write(tmp_path / "inbox"), toml)
    for key in ((WPL, 1, "opening surplus"), (WPL, 2, "payments 01")):
        assert "too large" in found[key] and "15 digits" in found[key]
    assert (WPL, 1, "closing balance") in found  # its closing is as large


def test_a_huge_charge_line_total_the_card_agrees_with_is_refused(tmp_path, toml):
    export = klonowa()
    export.charges[0] = Charge(P1, "202601", 1, "Zaliczka", "1", "szt", HUGE_TEXT, total=HUGE)
    found = problems(export.write(tmp_path / "inbox"), toml)
    assert (NAL, 1, "total", HUGE_TEXT) in found
    assert any(key[:3] == (WPL, 1, "charges 01") for key in found)  # the card's sum of them


def test_a_huge_fee_total_is_refused(tmp_path, toml):
    export = klonowa()
    export.fees[0].total = HUGE
    found = problems(export.write(tmp_path / "inbox"), toml)
    assert found == {(POW, 6, "total", HUGE_TEXT)}  # header 2 lines, #, footer, #, fees


@pytest.mark.parametrize("value", ["1234567890123456,78", "1 234 567 890 123 456,78"])
def test_sixteen_digits_of_zloty_are_too_large_in_either_notation(tmp_path, toml, value):
    folder = klonowa().write(tmp_path / "inbox")
    edit(folder, "wplaty.txt", 3, 6, value)
    assert "too large" in reasons(folder, toml)[(WPL, 3, "opening surplus")]


def test_a_leading_zero_does_not_make_an_amount_large(tmp_path, toml):
    export = klonowa()
    folder = export.write(tmp_path / "inbox")
    edit(folder, "wplaty.txt", 1, 5, "0000000000000000120,00")  # 120,00 with 19 digits
    bundle = legacy.read_legacy(folder, communities_file=toml)
    ledger = bundle.tables["ledger"]
    rows = ledger[ledger["premises_id"] == P1]
    assert int(rows["payment"].sum() - rows["charge"].sum()) == export.closing(P1)


def test_charge_lines_whose_sum_passes_int64_are_not_wrapped_round(tmp_path, toml):
    """185 totals just under the limit sum to just over 2^64 grosze: summed in int64 they wrap
    round to a few grosze, which a card could show; the month is compared with the true sum."""
    export = klonowa()
    others = export.month_charges(P1, 2026)[1]
    big = -(-(2**64 - others) // 185)  # each below 10^17 grosze, the largest amount taken
    export.charges += [
        Charge(P1, "202602", 10 + k, "Korekta", "1", "szt", "1", total=big) for k in range(185)
    ]
    sums = export.month_charges(P1, 2026)
    export.cards[0].charges = {m: sums[m - 1] for m in range(1, 13)}
    export.cards[0].charges[2] = sums[1] % 2**64  # the wrapped sum
    assert 0 < export.cards[0].charges[2] < 10**17
    found = reasons(export.write(tmp_path / "inbox"), toml)
    assert list(found) == [(WPL, 1, "charges 02")]


# --- digits that are not ASCII ------------------------------------------------------------

NOT_ASCII = {
    "superscript": "20260²",
    "superscript year": "²02601",
    "arabic-indic": "٢٠٢٦٠١",
    "persian": "۲۰۲۶۰۱",
    "fullwidth": "２０２６０１",
}


@pytest.mark.parametrize("period", NOT_ASCII.values(), ids=NOT_ASCII.keys())
def test_a_period_of_digits_that_are_not_ascii_is_refused(tmp_path, toml, period):
    folder = klonowa().write(tmp_path / "inbox")
    edit(folder, "nal_czynsz.txt", 1, 4, period)
    found = reasons(folder, toml)
    assert found[(NAL, 1, "period")] == f"not a period YYYYMM (premises {P1})"


@pytest.mark.parametrize(
    ("name", "line", "field", "value", "column"),
    [
        ("wplaty.txt", 1, 2, "٢٠٢٦", "year"),
        ("wplaty.txt", 1, 2, "２０２６", "year"),
        ("wplaty.txt", 1, 3, "٠١/٠١/٢٠٢٦", "date from"),
        ("wplaty.txt", 1, 5, "١٢٠,٠٠", "opening debt"),
        ("wplaty.txt", 1, 5, "1²0,00", "opening debt"),
        ("nal_czynsz.txt", 1, 7, "٥٤,٣٠", "quantity"),
        ("nal_czynsz.txt", 1, 9, "٢,١٠", "unit price"),
        ("nal_czynsz.txt", 1, 10, "١١٤,٠٣", "total"),
        ("pow_czynsz.txt", 6, 4, "٥٤,٣٠", "quantity"),
        ("lok.txt", 1, 12, "٥٢٣", "share"),
        ("lok.txt", 1, 13, "١٠٠٠٠", "share"),
        ("klo11_ost_wys.wmb", 1, 0, "٢٠٢٦١١٢٠", "as_of"),
    ],
)
def test_other_fields_of_digits_that_are_not_ascii_are_refused(
    tmp_path, toml, name, line, field, value, column
):
    folder = klonowa().write(tmp_path / "inbox")
    edit(folder, name, line, field, value)
    found = problems(folder, toml)
    assert any(f == f"KLO11/{name}" and r == line and c == column and value in v
               for f, r, c, v in found), found  # fmt: skip


# --- quantities and prices too large to multiply -------------------------------------------


@pytest.mark.parametrize(("field", "column"), [(7, "quantity"), (9, "unit price")])
@pytest.mark.parametrize("value", ["9" * 40, "1234567890123456", "9" * 30 + ",5"])
def test_a_huge_quantity_or_unit_price_is_refused(tmp_path, toml, field, column, value):
    folder = klonowa().write(tmp_path / "inbox")
    edit(folder, "nal_czynsz.txt", 1, field, value)
    found = reasons(folder, toml)
    assert "too large" in found[(NAL, 1, column)]


def test_fifteen_digit_quantity_and_price_read_with_a_warning(tmp_path, toml):
    export = klonowa()
    export.charges[0] = Charge(P1, "202601", 1, "Zaliczka", "999999999999999,5", "m2",
                               "999999999999999,99", total=6888)  # fmt: skip
    bundle = legacy.read_legacy(export.write(tmp_path / "inbox"), communities_file=toml)
    assert any("line 1" in w and "differs from quantity × price" in w for w in bundle.warnings)


# --- values the line parsers already refused: they stay refused, not crashes ---------------


@pytest.mark.parametrize(
    ("name", "line", "field", "value", "column", "reason"),
    [
        ("wplaty.txt", 1, 2, "10000", "year", "not a year YYYY"),
        ("wplaty.txt", 1, 3, "31/02/2026", "date from", "not a date dd/mm/yyyy"),
        ("wplaty.txt", 1, 4, "01/01/0000", "date to", "not a date dd/mm/yyyy"),
        ("wplaty.txt", 1, 1, "", "premises code", "card without a premises code"),
        ("nal_czynsz.txt", 1, 4, "", "period", "not a period YYYYMM"),
        ("nal_czynsz.txt", 1, 7, "", "quantity", "not a number"),
        ("nal_czynsz.txt", 1, 10, "", "total", "not a number"),
        ("klo11_ost_wys.wmb", 1, 0, "00000101", "as_of", "not a date YYYYMMDD"),
    ],
)
def test_impossible_dates_and_empty_required_fields_are_refused(
    tmp_path, toml, name, line, field, value, column, reason
):
    folder = klonowa().write(tmp_path / "inbox")
    edit(folder, name, line, field, value)
    assert reasons(folder, toml)[(f"KLO11/{name}", line, column)].startswith(reason)


def test_negative_zero_is_zero(tmp_path, toml):
    export = klonowa()
    folder = export.write(tmp_path / "inbox")
    edit(folder, "wplaty.txt", 3, 5, "-0,00")  # opening debt of P3's card
    edit(folder, "wplaty.txt", 3, 6, "-0")  # opening surplus
    bundle = legacy.read_legacy(folder, communities_file=toml)
    ledger = bundle.tables["ledger"]
    rows = ledger[ledger["premises_id"] == P3]
    assert int(rows["payment"].sum() - rows["charge"].sum()) == export.closing(P3)


# --- the first day of year 1 ----------------------------------------------------------------


def test_a_card_from_01_01_0001_with_a_published_balance_is_not_a_crash(tmp_path, toml, store):
    published = make_document(
        P1, community_id="KLO11", ledger=[ledger_row("2025-12-31", "Saldo", charge=12000)]
    )
    previous = publish_documents(store, [published])
    folder = klonowa().write(tmp_path / "inbox")
    edit(folder, "wplaty.txt", 1, 3, "01/01/0001")
    bundle = legacy.read_legacy(folder, communities_file=toml, previous=previous)
    ledger = bundle.tables["ledger"]
    assert ledger[ledger["premises_id"] == P1]["date"].min() == "0001-01-01"


# --- end to end: `ebok import` --------------------------------------------------------------


def test_ebok_import_of_a_hostile_export_reports_it_and_keeps_the_published_data(
    tmp_path, settings, capsys
):
    from ebok.cli import main

    communities_toml(settings.communities_file)
    good = klonowa().write(tmp_path / "good")
    assert main(["--data-dir", str(settings.data_dir), "import", str(good)]) == 0
    published = SnapshotStore(settings.snapshots_dir).current().id
    capsys.readouterr()

    bad = klonowa().write(tmp_path / "bad")
    edit(bad, "nal_czynsz.txt", 1, 4, "20260²")
    edit(bad, "wplaty.txt", 2, 2, "0000")
    edit(bad, "wplaty.txt", 2, 3, "")
    assert main(["--data-dir", str(settings.data_dir), "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "internal error" not in err and "Traceback" not in err
    assert f"{NAL}, ledger, row 1, period, '20260²': not a period YYYYMM" in err
    assert f"{WPL}, ledger, row 2, year, '0000'" in err
    assert SnapshotStore(settings.snapshots_dir).current().id == published
