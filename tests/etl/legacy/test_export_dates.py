"""Which date a real legacy export's data holds (other importers of the same format meet
these shapes): only lok.txt and wplaty.txt, dated by the cards' end date; three `.wmb` files
with different dates, one for each part; and the contract's bundles, which carry no part dates.
The shapes of lines and files are in test_line_shapes.py, the years a card covers in
test_card_years.py. Each test checks the figures and wording a resident sees."""

from __future__ import annotations

from etl.snapshot.store import SnapshotStore
from tests.builders import page, zl
from tests.etl.legacy_builders import (
    P1,
    P2,
    P3,
    CardSpec,
    Charge,
    LegacyExport,
    Owner,
    balance,
    klonowa,
    publish,
    read,
    rejected,
    rows,
)

IMP = "IMP2-IMP2-00000-00001M"


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
