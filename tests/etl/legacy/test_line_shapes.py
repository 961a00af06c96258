"""Lines and files of a legacy export as ledger systems really write them (other importers of
the same format meet these shapes): a pow_czynsz.txt with one `#` line, 4-decimal prices and
quantities, lines with a wrong field count, a council-owned flat with no owner in lok.txt.
Dates of an export are in test_export_dates.py, the years a card covers in test_card_years.py.
Each test checks the figures and wording a resident sees."""

from __future__ import annotations

import pytest

from etl.legacy import reader as legacy
from etl.model import BundleRejected
from tests.builders import page, zl
from tests.etl.legacy_builders import (
    P1,
    P3,
    CardSpec,
    Charge,
    LegacyExport,
    balance,
    communities_toml,
    klonowa,
    publish,
    read,
    rejected,
)

# --- pow_czynsz.txt with one `#` line -------------------------------------------------------


def test_pow_czynsz_with_a_header_one_hash_line_and_the_fee_lines(tmp_path):
    export = klonowa()
    export.footer = None
    bundle = read(tmp_path, export)
    fees = bundle.tables["fees"]
    assert len(fees) == 5 and list(fees["_row"]) == [4, 5, 6, 7, 8]  # lines after the header
    assert fees[fees["premises_id"] == P1]["amount"].sum() == 11403 + 17105 + 4268
    (community,) = bundle.tables["communities"].to_dict("records")
    assert community["fee_notes"] == {
        "header": "Szanowni Państwo,\nod 1 stycznia zmieniają się stawki.",
        "footer": "",
    }

    # Text after the single `#` that holds no `#` is a note for residents, not a fee line.
    folder = tmp_path / "inbox" / "KLO11"
    text = (folder / "pow_czynsz.txt").read_bytes()
    (folder / "pow_czynsz.txt").write_bytes(
        text + "Termin płatności: do 10. dnia miesiąca\r\n".encode("iso-8859-2")
    )
    bundle = legacy.read_legacy(folder, communities_file=tmp_path / "communities.toml")
    notes = bundle.tables["communities"].iloc[0]["fee_notes"]
    assert notes["footer"] == "Termin płatności: do 10. dnia miesiąca"
    assert len(bundle.tables["fees"]) == 5


def test_the_fees_page_of_a_one_hash_pow_czynsz(settings, capsys, signed_in):
    export = klonowa()
    export.footer = None
    publish(settings, capsys, export)
    fees = page(signed_in(P1, login="kowalski"), P1, "fees")
    assert "od 1 stycznia zmieniają się stawki." in fees
    assert zl(11403) in fees and zl(17105) in fees
    assert zl(11403 + 17105 + 4268) in fees  # Razem miesięcznie


def test_pow_czynsz_without_any_hash_line_is_refused_an_empty_one_is_no_schedule(tmp_path):
    export = klonowa()
    export.extra_files = {"pow_czynsz.txt": "Same notatki\r\nbez znaku\r\n".encode("iso-8859-2")}
    (problem,) = rejected(tmp_path, export).problems
    assert problem.file == "KLO11/pow_czynsz.txt" and "no line holding only '#'" in problem.reason

    export.extra_files = {"pow_czynsz.txt": b""}
    bundle = read(tmp_path / "empty", export)
    assert bundle.tables["fees"].empty


# --- unit prices and quantities with 4 decimals ---------------------------------------------


def test_four_decimal_prices_and_quantities(tmp_path, settings, capsys, signed_in):
    export = klonowa()
    export.charges.append(
        Charge(P1, "202611", 5, "Fundusz remontowy II", "50,4012", "m2", "2,5005")
    )  # 126,0250… → 126,03
    export.fees.append(Charge(P1, "", 4, "Fundusz remontowy II", "50,4012", "m2", "2,5005"))
    bundle = read(tmp_path, export)
    fees = bundle.tables["fees"]
    extra = fees[fees["component"] == "Fundusz remontowy II"].iloc[0]
    assert (extra["quantity"], extra["rate"], extra["amount"]) == ("50.4012", "2.5005", 12603)
    november = bundle.tables["ledger"].query("premises_id == @P1 and period == '2026-11'")
    detail = november.iloc[0]["details"][-1]
    assert (detail["quantity"], detail["rate"], detail["amount"]) == ("50.4012", "2.5005", 12603)
    assert not [w for w in bundle.warnings if "differs from" in w]

    publish(settings, capsys, export)
    resident = signed_in(P1, login="kowalski")
    ledger = page(resident, P1, "ledger")
    assert "2,5005" in ledger and "50,4012" in ledger and zl(12603) in ledger
    fees_page = page(resident, P1, "fees")
    assert "2,5005" in fees_page and zl(11403 + 17105 + 4268 + 12603) in fees_page


def test_a_total_off_quantity_times_price_still_warns_and_totals_keep_two_decimals(tmp_path):
    export = klonowa()
    export.charges.append(
        Charge(P3, "202611", 2, "Sprzątanie", "2", "szt", "10,1234", total=2000)
    )  # 2 × 10,1234 = 20,25 ≠ 20,00
    bundle = read(tmp_path, export)
    (warning,) = [w for w in bundle.warnings if "differs from" in w]
    assert P3 in warning and "20,00" in warning and "20,25" in warning

    folder = tmp_path / "inbox" / "KLO11"
    lines = (folder / "nal_czynsz.txt").read_bytes().decode("iso-8859-2").split("\r\n")
    lines[0] = lines[0].rsplit("#", 1)[0] + "#114,0300"  # 4 decimals, a whole grosz: read
    lines[1] = lines[1].rsplit("#", 1)[0] + "#171,045"  # a fraction of a grosz: refused
    (folder / "nal_czynsz.txt").write_bytes("\r\n".join(lines).encode("iso-8859-2"))
    with pytest.raises(BundleRejected) as info:
        legacy.read_legacy(folder, communities_file=tmp_path / "communities.toml")
    (problem,) = [p for p in info.value.problems if p.file == "KLO11/nal_czynsz.txt"]
    assert (problem.row, problem.column, problem.value) == (2, "total", "171,045")
    assert "more than 2 decimal places" in problem.reason


# --- wrong field counts ---------------------------------------------------------------------


def test_wrong_field_counts_name_file_line_and_count(tmp_path):
    export = klonowa()
    export.footer = None
    folder = export.write(tmp_path / "inbox")
    cards = (folder / "wplaty.txt").read_bytes().decode("iso-8859-2").split("\r\n")
    cards[1] = cards[1].rsplit("#", 1)[0]  # the closing balance cut off: 33 fields
    (folder / "wplaty.txt").write_bytes("\r\n".join(cards).encode("iso-8859-2"))
    fees = (folder / "pow_czynsz.txt").read_bytes().decode("iso-8859-2").split("\r\n")
    fees[4] = fees[4].rsplit("#", 1)[0]  # 7 fields
    (folder / "pow_czynsz.txt").write_bytes("\r\n".join(fees).encode("iso-8859-2"))
    with pytest.raises(BundleRejected) as info:
        legacy.read_legacy(folder, communities_file=communities_toml(tmp_path / "c.toml"))
    found = {(p.file, p.row, p.reason) for p in info.value.problems}
    assert ("KLO11/wplaty.txt", 2, "33 fields, expected 34") in found
    assert ("KLO11/pow_czynsz.txt", 5, "7 fields, expected 8") in found


# --- a premises with no owner in lok.txt (a council-owned flat) -----------------------------

P5 = "KLO11-KLO11-00000-00005M"


def council_flat() -> LegacyExport:
    export = klonowa()
    export.others.append(
        "N000020#Najemca Zofia##" + P5 + "#Klonowa#11#5#30-001#Kraków#zofia@example.pl###0#1"
    )
    export.charges += [
        Charge(P5, f"2026{m:02d}", 1, "Zaliczka na koszty zarządu", "40,00", "m2", "2,10",
               owner="N000020")
        for m in range(1, 12)
    ]  # fmt: skip
    export.cards.append(CardSpec(P5, 2026, "N000020", payments={m: 8400 for m in range(1, 11)}))
    return export


def test_a_council_flat_is_shown_with_the_payer_lok_txt_lists(tmp_path):
    export = council_flat()
    bundle = read(tmp_path, export)
    premises = bundle.tables["premises"].set_index("premises_id")
    assert premises.loc[P5, "payer_name"] == "Najemca Zofia"
    assert premises.loc[P5, "payer_address"] == "Klonowa 11/5, 30-001 Kraków"
    assert premises.loc[P5, "number"] == "5"
    assert balance(bundle, P5) == export.closing(P5) == -8400
    (warning,) = [w for w in bundle.warnings if "no owner" in w]
    assert P5 in warning and "KLO11/lok.txt, line 6" in warning and "Najemca Zofia" in warning


def test_a_card_for_a_premises_lok_txt_does_not_list_is_still_refused(tmp_path):
    export = council_flat()
    export.others = []
    error = rejected(tmp_path, export)
    assert {p.file for p in error.problems} == {"KLO11/wplaty.txt", "KLO11/nal_czynsz.txt"}
    assert all(P5 in p.reason for p in error.problems)


def test_the_council_flats_resident_sees_its_balance(settings, capsys, signed_in):
    export = council_flat()
    publish(settings, capsys, export)
    overview = page(signed_in(P5, login="zofia"), P5)
    assert "Najemca Zofia" in overview
    assert f"Do zapłaty pozostaje {zl(8400)}" in overview
