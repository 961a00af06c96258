"""Legacy exports as ledger systems really write them (other importers of the same format meet
these shapes): only lok.txt and wplaty.txt, a one-`#` pow_czynsz.txt, three `.wmb` files with
different dates, 4-decimal prices, a card that starts in July, a council-owned flat with no
owner in lok.txt. Each test checks the figures and wording a resident sees."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from etl.legacy import reader as legacy
from etl.model import BundleRejected
from etl.snapshot.store import SnapshotStore
from tests.builders import ledger_row, make_document, publish_documents
from tests.etl.legacy_builders import (
    CardSpec,
    Charge,
    LegacyExport,
    Owner,
    communities_toml,
    klonowa,
)

P1, P2, P3 = (f"KLO11-KLO11-00000-0000{n}M" for n in (1, 2, 4))
IMP = "IMP2-IMP2-00000-00001M"


def read(tmp_path: Path, export: LegacyExport, **kwargs):
    tmp_path.mkdir(parents=True, exist_ok=True)
    toml = communities_toml(tmp_path / "communities.toml", export.community_id)
    folder = export.write(tmp_path / "inbox")
    return legacy.read_legacy(folder, communities_file=toml, **kwargs)


def rejected(tmp_path: Path, export: LegacyExport, **kwargs) -> BundleRejected:
    with pytest.raises(BundleRejected) as info:
        read(tmp_path, export, **kwargs)
    return info.value


def rows(bundle, premises_id: str) -> list[tuple[str, str, int, int]]:
    """(date, description, charge, payment) of a premises' ledger rows."""
    ledger = bundle.tables["ledger"]
    own = ledger[ledger["premises_id"] == premises_id]
    return list(zip(own["date"], own["description"], own["charge"], own["payment"], strict=True))


def balance(bundle, premises_id: str) -> int:
    return sum(payment - charge for _, _, charge, payment in rows(bundle, premises_id))


def publish(settings, capsys, export: LegacyExport) -> None:
    from ebok.cli import main

    communities_toml(settings.communities_file, export.community_id)
    export.write(settings.inbox_dir)
    status = main(["--data-dir", str(settings.data_dir), "sync", "--min-age", "0"])
    output = capsys.readouterr()
    assert status == 0, output.out + output.err


def page(resident, premises_id: str, sub: str = "") -> str:
    """A page's text as the resident reads it: tags out, entities and spaces plain."""
    from portal.premises.page import premises_url

    response = resident.get(premises_url(premises_id, sub))
    assert response.status_code == 200
    text = html.unescape(re.sub(r"<[^>]+>", "", response.text))
    return " ".join(text.replace("\xa0", " ").split())


def zl(grosze: int) -> str:
    """An amount as the page shows it: `1 234,56 zł`."""
    from portal.web.format import money

    return html.unescape(money(grosze)).replace("\xa0", " ")


# --- only lok.txt and wplaty.txt ----------------------------------------------------------


def importowa() -> LegacyExport:
    """What a small community's export often is: lok.txt and wplaty.txt, nothing else. The
    share is written with a decimal numerator (50.5/1000); months of 444,00 charged."""
    return LegacyExport(
        community_id="IMP2",
        as_of=None,
        owners=[
            Owner(
                "W10001",
                "Jan Kowalski",
                IMP,
                "1A",
                street="ul. Importowa",
                building="2",
                postal_code="00-002",
                email="jan.kowalski@test.com",
                share=("50.5", "1000"),
            ),
        ],  # fmt: skip
        cards=[
            CardSpec(
                IMP,
                2025,
                "W10001",
                opening_debt=12000,
                charges={m: 44400 for m in range(1, 12)},
                payments={1: 40000, **{m: 44400 for m in range(2, 12)}},
            ),
        ],  # fmt: skip
        omit=("nal_czynsz.txt", "pow_czynsz.txt"),
    )


def test_lok_and_wplaty_alone_give_the_cards_months_dated_by_the_card(tmp_path):
    export = importowa()
    bundle = read(tmp_path, export)
    (community,) = bundle.tables["communities"].to_dict("records")
    assert community["as_of"] == "2025-12-31"  # the card's end date, no .wmb file
    assert community["as_of_parts"] == {}
    assert community["fee_notes"] == {"header": "", "footer": ""}
    assert bundle.tables["fees"].empty
    shown = rows(bundle, IMP)
    assert shown[0] == ("2025-01-01", "Bilans otwarcia", 12000, 0)
    assert ("2025-03-01", "Naliczenie 03/2025", 44400, 0) in shown
    assert ("2025-03-31", "Wpłaty 03/2025", 0, 44400) in shown
    assert ("2025-11-30", "Wpłaty 11/2025", 0, 44400) in shown
    assert not [r for r in shown if r[0] >= "2025-12-01"]  # December: nothing on the card
    ledger = bundle.tables["ledger"]
    assert ledger["details"].isna().all()  # no nal_czynsz.txt: no breakdown
    assert balance(bundle, IMP) == export.closing(IMP) == -16400
    premises = bundle.tables["premises"].iloc[0]
    assert premises["share"] == "0.0505"
    for name in ("nal_czynsz.txt", "pow_czynsz.txt", "*_ost_wys.wmb"):
        assert any(w.startswith(f"IMP2/{name}: missing") for w in bundle.warnings)


def test_the_resident_is_told_the_data_run_to_the_cards_end_date(settings, capsys, signed_in):
    publish(settings, capsys, importowa())
    resident = signed_in(IMP, login="kowalski")
    overview = page(resident, IMP)
    assert "Dane według karty kontowej do 31.12.2025" in overview
    assert "Dane według stanu na" not in overview
    assert f"Do zapłaty pozostaje {zl(16400)}" in overview
    ledger = page(resident, IMP, "ledger")
    assert "Dane według karty kontowej do 31.12.2025" in ledger
    assert "Naliczenie 03/2025" in ledger and "01.03.2025" in ledger
    assert "Wpłaty 03/2025" in ledger and "31.03.2025" in ledger
    assert zl(44400) in ledger and "Szczegóły naliczenia" not in ledger
    slip = page(resident, IMP, "slip")
    assert "Dane z dnia 31.12.2025" in slip  # the date itself is still there for the slip


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


# --- three .wmb files with different dates ------------------------------------------------


def three_dates() -> LegacyExport:
    """Premises data of 15 December, charges computed to 30 November, the fee schedule of
    1 December; P1's card already holds December's charge, and a December payment."""
    export = klonowa(2025)
    export.wmb = {
        "lokal_ost_wys.wmb": "20251215",
        "nalicz_ost_wys.wmb": "20251130",
        "pow_czynsz_ost_wys.wmb": "20251201",
    }
    export.charges += [
        Charge(P1, "202512", 1, "Zaliczka na koszty zarządu", "54,30", "m2", "2,10"),
        Charge(P1, "202512", 2, "Fundusz remontowy", "54,30", "m2", "3,15"),
    ]
    export.cards[0].payments[12] = 20000
    return export


DECEMBER = 11403 + 17105  # P1's December charge, on the card but after the charges date


def test_each_part_keeps_its_date_and_later_charges_are_not_due(tmp_path):
    export = three_dates()
    bundle = read(tmp_path, export)
    (community,) = bundle.tables["communities"].to_dict("records")
    assert community["as_of"] == "2025-12-15"  # the newest
    assert community["as_of_parts"] == {
        "premises": "2025-12-15",
        "ledger": "2025-11-30",
        "fees": "2025-12-01",
    }
    shown = rows(bundle, P1)
    assert not [r for r in shown if r[1] == "Naliczenie 12/2025"]
    assert ("2025-11-01", "Naliczenie 11/2025", 11403 + 17105 + 4268, 0) in shown
    assert ("2025-12-15", "Wpłaty 12/2025", 0, 20000) in shown  # not after the as-of date
    # The card's closing counts December's charge; what is due on 30 November does not.
    assert balance(bundle, P1) == export.closing(P1) + DECEMBER
    for premises_id in (P2, P3):
        assert balance(bundle, premises_id) == export.closing(premises_id)
    (warning,) = [w for w in bundle.warnings if "not shown as due" in w]
    assert "12/2025" in warning and "30/11/2025" in warning and "285,08" in warning


def test_each_page_shows_the_date_of_its_own_data(settings, capsys, signed_in):
    export = three_dates()
    publish(settings, capsys, export)
    resident = signed_in(P1, login="kowalski")
    overview = page(resident, P1)
    assert "Dane według stanu na 15.12.2025" in overview
    assert "Lokale według stanu na 15.12.2025" in overview
    owed = -(export.closing(P1) + DECEMBER)
    assert owed > 0 and f"Do zapłaty pozostaje {zl(owed)}" in overview
    ledger = page(resident, P1, "ledger")
    assert "Naliczenia według stanu na 30.11.2025" in ledger
    assert "Naliczenie 11/2025" in ledger and "Naliczenie 12/2025" not in ledger
    assert "15.12.2025" in ledger and zl(20000) in ledger  # December's payment
    fees = page(resident, P1, "fees")
    assert "Opłaty według stanu na 01.12.2025" in fees
    assert "Naliczenia według stanu" not in fees and "Lokale według stanu" not in fees


def test_one_date_file_for_everything_shows_one_date(settings, capsys, signed_in):
    publish(settings, capsys, klonowa())  # klo11_ost_wys.wmb: 20261120
    resident = signed_in(P1, login="kowalski")
    ledger = page(resident, P1, "ledger")
    assert "Dane według stanu na 20.11.2026" in ledger
    assert "Naliczenia według stanu" not in ledger  # the same date: said once
    shown = SnapshotStore(settings.snapshots_dir).current().document(P1)
    assert shown["community"]["as_of_parts"] == {
        "premises": "2026-11-20",
        "ledger": "2026-11-20",
        "fees": "2026-11-20",
    }


def test_two_date_files_of_unknown_parts_that_disagree_are_refused(tmp_path):
    export = klonowa()
    export.wmb = {"klo11_ost_wys.wmb": "20261120", "inne_ost_wys.wmb": "20261031"}
    (problem,) = rejected(tmp_path, export).problems
    assert problem.column == "as_of" and "different dates" in problem.reason


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


# --- a card that starts on 1 July ---------------------------------------------------------

ZALICZKA = 11403  # 54,30 m² × 2,10


def july(first_month: tuple[int, int] | None, *, lines: bool = True) -> LegacyExport:
    """P1's card starts 01/07/2025 (the books begin in July), 114,03 charged a month and paid
    July to November. `first_month` (2025, 7): the card's columns run from July; None: they
    are January..December, July's in column 7."""
    shift = 0 if first_month else 6
    export = LegacyExport(
        as_of="20251231",
        owners=[Owner("W000001", "Kowalski Jan", P1, "1")],
        charges=[
            Charge(P1, f"2025{m:02d}", 1, "Zaliczka na koszty zarządu", "54,30", "m2", "2,10")
            for m in range(7, 13)
        ],
        cards=[
            CardSpec(
                P1,
                2025,
                opening_debt=5000,
                date_from="01/07/2025",
                first_month=first_month,
                payments={c + shift: ZALICZKA for c in range(1, 6)},
            ),
        ],  # fmt: skip
    )
    if not lines:
        export.cards[0].charges = {c + shift: ZALICZKA for c in range(1, 7)}
        export.charges = []
        export.omit = ("nal_czynsz.txt",)
    return export


JULY_ROWS = [
    ("2025-07-01", "Bilans otwarcia", 5000, 0),
    ("2025-07-01", "Naliczenie 07/2025", ZALICZKA, 0),
    ("2025-07-31", "Wpłaty 07/2025", 0, ZALICZKA),
]


@pytest.mark.parametrize("first_month", [(2025, 7), None], ids=["from-july", "jan-dec"])
@pytest.mark.parametrize("lines", [True, False], ids=["with-lines", "card-only"])
def test_a_card_from_july_dates_julys_rows_in_july(tmp_path, first_month, lines):
    export = july(first_month, lines=lines)
    bundle = read(tmp_path, export)
    shown = sorted(rows(bundle, P1))
    assert shown[:3] == sorted(JULY_ROWS)
    assert min(r[0] for r in shown) == "2025-07-01"  # nothing before the card starts
    charges = [(r[0], r[1]) for r in shown if r[2] and r[1].startswith("Naliczenie")]
    assert charges == [(f"2025-{m:02d}-01", f"Naliczenie {m:02d}/2025") for m in range(7, 13)]
    assert ("2025-11-30", "Wpłaty 11/2025", 0, ZALICZKA) in shown
    assert balance(bundle, P1) == export.closing(P1) == -5000 - ZALICZKA
    how = "from its start month" if first_month else "as January..December"
    (warning,) = [w for w in bundle.warnings if "starts 01/07/2025" in w]
    assert how in warning and "KLO11/wplaty.txt, line 1" in warning


def test_a_july_to_june_card_runs_into_the_next_year(tmp_path):
    export = july((2025, 7), lines=False)
    card = export.cards[0]
    card.date_to = "30/06/2026"
    card.charges = {c: ZALICZKA for c in range(1, 13)}
    export.as_of = "20260630"
    bundle = read(tmp_path, export)
    charged = [r[1] for r in rows(bundle, P1) if r[2] and r[1].startswith("Naliczenie")]
    assert charged[0] == "Naliczenie 07/2025" and charged[-1] == "Naliczenie 06/2026"
    assert ("2026-06-01", "Naliczenie 06/2026", ZALICZKA, 0) in rows(bundle, P1)
    assert balance(bundle, P1) == export.closing(P1)


def test_a_july_card_that_no_reading_fits_is_refused_with_its_line(tmp_path):
    export = july(None, lines=False)
    export.cards[0].charges = {c: ZALICZKA for c in range(1, 13)}  # 12 months in July..Dec
    (problem,) = rejected(tmp_path, export).problems
    assert (problem.file, problem.row, problem.column) == ("KLO11/wplaty.txt", 1, "date from")
    assert problem.value == "01/07/2025" and P1 in problem.reason


def test_a_july_card_is_checked_against_the_charge_lines_of_its_own_months(tmp_path):
    export = july((2025, 7))
    export.cards[0].charges = {c: ZALICZKA for c in range(1, 7)}
    export.cards[0].charges[2] += 100  # August on the card: 115,03; the lines say 114,03
    (problem,) = rejected(tmp_path, export).problems
    assert (problem.row, problem.column) == (1, "charges 02")
    assert "period 202508" in problem.reason and "115,03" in problem.reason


def test_the_resident_sees_the_july_card_from_july(settings, capsys, signed_in):
    export = july((2025, 7))
    publish(settings, capsys, export)
    ledger = page(signed_in(P1, login="kowalski"), P1, "ledger")
    assert "Naliczenie 07/2025" in ledger and "01.07.2025" in ledger and "31.07.2025" in ledger
    assert "Naliczenie 01/2025" not in ledger
    assert "Dane według stanu na 31.12.2025" in ledger


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


# --- one year per export: the next year's opening continues the published closing ----------


def test_next_years_export_may_differ_from_the_published_closing_by_a_grosz(settings, capsys):
    first = klonowa(2025)
    first.as_of = "20251231"
    publish(settings, capsys, first)
    following = klonowa(2026)
    following.as_of = "20261231"  # the whole year: the next export is compared with it
    for card in following.cards:
        closing = first.closing(card.premises) + 1  # 0,01 over: tolerated
        card.opening_debt, card.opening_surplus = max(-closing, 0), max(closing, 0)
    publish(settings, capsys, following)
    document = SnapshotStore(settings.snapshots_dir).current().document(P2)
    assert document["totals"]["balance"] == following.closing(P2)

    again = klonowa(2027)
    again.as_of = "20271120"
    for card in again.cards:
        closing = following.closing(card.premises) + (2 if card.premises == P1 else 0)
        card.opening_debt, card.opening_surplus = max(-closing, 0), max(closing, 0)
    toml = communities_toml(settings.data_dir / "c.toml")
    store = SnapshotStore(settings.snapshots_dir)
    with pytest.raises(BundleRejected) as info:
        legacy.read_legacy(again.write(settings.data_dir / "x"), communities_file=toml,
                           previous=store.current())  # fmt: skip
    (problem,) = info.value.problems  # P1's opening, 0,02 off
    assert problem.column == "opening balance" and P1 in problem.reason


def test_published_data_that_stopped_before_the_year_end_is_not_compared(tmp_path, store):
    published = make_document(
        P1,
        community_id="KLO11",
        as_of="2025-11-30",
        ledger=[ledger_row("2025-11-01", "Naliczenie 11/2025", charge=11900)],
    )
    previous = publish_documents(store, [published])
    bundle = read(tmp_path, klonowa(2026), previous=previous)  # opens with 120,00 owed
    (warning,) = [w for w in bundle.warnings if "not compared" in w]
    assert P1 in warning and "30/11/2025" in warning

    published["community"]["as_of"] = "2025-12-31"  # the year's end: compared, and refused
    previous = publish_documents(store, [published])
    (problem,) = rejected(tmp_path / "again", klonowa(2026), previous=previous).problems
    assert problem.column == "opening balance" and "-119,00" in problem.reason


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


# --- the contract's bundles carry no part dates ----------------------------------------------


def test_a_contract_bundle_publishes_no_part_dates(tmp_path):
    from etl.publisher.publish import publish as publish_bundle
    from etl.reader.bundle import read_bundle
    from tests.etl.builders import minimal_tables, write_csv_bundle

    bundle = read_bundle(write_csv_bundle(tmp_path / "b", minimal_tables()))
    assert bundle.tables["communities"].iloc[0]["as_of_parts"] is None
    store = SnapshotStore(tmp_path / "snapshots")
    publish_bundle(bundle, store)
    premises_id = bundle.tables["premises"].iloc[0]["premises_id"]
    community = store.current().document(premises_id)["community"]
    assert community["as_of_parts"] is None and community["as_of"] == "2026-11-20"
