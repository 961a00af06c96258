"""The legacy `#` export: detected by its file names, read as ISO-8859-2, mapped onto our tables,
and refused whole when its cards contradict themselves, the charge lines or what was published."""

from __future__ import annotations

import html
import json
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from etl.legacy import reader as legacy
from etl.model import BundleRejected
from etl.snapshot.store import SnapshotStore
from tests.builders import ledger_row, make_document, publish_documents
from tests.etl.legacy_builders import (
    ACCOUNT_DIGITS,
    CardSpec,
    Charge,
    LegacyExport,
    Owner,
    communities_toml,
    klonowa,
)

P1, P2, P3 = (f"KLO11-KLO11-00000-0000{n}M" for n in (1, 2, 4))


@pytest.fixture
def toml(tmp_path: Path) -> Path:
    return communities_toml(tmp_path / "communities.toml")


def read(tmp_path: Path, export, toml: Path | None, **kwargs):
    folder = export.write(tmp_path / "inbox")
    return legacy.read_legacy(folder, communities_file=toml, **kwargs)


def rejected(tmp_path: Path, export, toml: Path | None, **kwargs) -> BundleRejected:
    with pytest.raises(BundleRejected) as info:
        read(tmp_path, export, toml, **kwargs)
    return info.value


def balance(bundle, premises_id: str) -> int:
    ledger = bundle.tables["ledger"]
    rows = ledger[ledger["premises_id"] == premises_id]
    return int(rows["payment"].sum() - rows["charge"].sum())


# --- detection ---------------------------------------------------------------------------


def test_detects_the_folder_its_parent_and_zips_but_not_a_contract_bundle(tmp_path):
    export = klonowa()
    folder = export.write(tmp_path / "inbox")
    assert legacy.detect(folder)
    assert legacy.detect(tmp_path / "inbox")  # the community folder inside what was dropped
    assert legacy.detect(export.write_zip(tmp_path / "klo.zip"))
    assert legacy.detect(export.write_zip(tmp_path / "KLO11.zip", top_folder=False))

    contract = tmp_path / "contract"
    contract.mkdir()
    (contract / "premises.csv").write_text("premises_id;community_id\n", "utf-8")
    (contract / "ledger.csv").write_text("premises_id;date\n", "utf-8")
    assert not legacy.detect(contract)
    assert not legacy.detect(contract / "ledger.csv")
    (tmp_path / "broken.zip").write_bytes(b"not a zip")
    assert not legacy.detect(tmp_path / "broken.zip")


# --- reading and mapping -----------------------------------------------------------------


def test_latin2_names_hash_in_name_co_owners_and_non_owners(tmp_path, toml):
    bundle = read(tmp_path, klonowa(), toml)
    assert bundle.kind == "legacy"
    premises = bundle.tables["premises"].set_index("premises_id")
    assert list(premises.index) == [P1, P2, P3]
    assert premises.loc[P1, "payer_name"] == "Kowalski Jan, Kowalska Żaneta"
    assert premises.loc[P2, "payer_name"] == "Spółka Śląsk #2 Sp. z o.o."
    assert premises.loc[P3, "payer_name"] == "Źródłowska Ąnna"  # the tenant N000009 is skipped
    assert premises.loc[P1, "number"] == "1"
    assert premises.loc[P1, "street"] == "Klonowa 11"
    assert premises.loc[P1, "city"] == "Kraków"
    assert premises.loc[P1, "email"] == "jan.kowalski@example.pl"
    assert premises.loc[P3, "payer_address"] == "Klonowa 11/4, 30-001 Kraków"
    assert premises.loc[P2, "share"] == "0.112"
    assert set(premises["community_id"]) == {"KLO11"}
    assert premises.loc[P2, "_file"] == "KLO11/lok.txt" and premises.loc[P2, "_row"] == 3


def test_community_from_settings_file_as_of_and_fee_notes(tmp_path, toml):
    bundle = read(tmp_path, klonowa(), toml)
    (community,) = bundle.tables["communities"].to_dict("records")
    assert community["community_id"] == "KLO11"
    assert community["name"] == "Wspólnota Mieszkaniowa Klonowa 11"
    assert community["bank_account"] == ACCOUNT_DIGITS
    assert community["as_of"] == "2026-11-20"
    assert (community["street"], community["postal_code"]) == ("Klonowa 11", "30-001")
    assert community["fee_notes"] == {
        "header": "Szanowni Państwo,\nod 1 stycznia zmieniają się stawki.",
        "footer": "Wpłaty prosimy kierować na rachunek wspólnoty.",
    }
    assert bundle.communities() == {"KLO11"}
    assert {s.name for s in bundle.sources} >= {"KLO11/lok.txt", "KLO11/wplaty.txt"}


def test_fees_keep_sub_grosz_quantities_and_given_totals(tmp_path, toml):
    fees = read(tmp_path, klonowa(), toml).tables["fees"]
    water = fees[fees["component"] == "Woda zimna"].iloc[0]
    assert (water["quantity"], water["rate"], water["basis"]) == ("3.456789", "12.3456", "m3")
    assert water["amount"] == 4268  # 3,456789 × 12,3456 = 42,676… → 42,68 as the file says
    assert fees[fees["premises_id"] == P1]["amount"].sum() == 11403 + 17105 + 4268


def test_ledger_rows_per_month_with_breakdown_and_negative_correction(tmp_path, toml):
    export = klonowa()
    ledger = read(tmp_path, export, toml).tables["ledger"]
    own = ledger[ledger["premises_id"] == P1].reset_index(drop=True)
    opening = own.iloc[0]
    assert (opening["date"], opening["description"]) == ("2026-01-01", "Bilans otwarcia")
    assert (opening["charge"], opening["payment"]) == (12000, 0)  # 120,00 opening debt

    june = own[own["period"] == "2026-06"].iloc[0]
    assert june["description"] == "Naliczenie 06/2026" and june["date"] == "2026-06-01"
    lines = june["details"]
    assert [d["description"] for d in lines][-1] == "Wyrównanie zaliczek"
    assert lines[-1]["amount"] == -8540 and lines[-1]["quantity"] == "-1"
    assert june["charge"] == sum(d["amount"] for d in lines) == 11403 + 17105 + 4268 - 8540

    paid = own[own["description"] == "Wpłaty 02/2026"].iloc[0]
    assert (paid["date"], paid["payment"], paid["charge"]) == ("2026-02-28", 33000, 0)
    # November is paid nothing: no payment row; December has neither charges nor payments.
    assert "Wpłaty 11/2026" not in set(own["description"])
    assert not own["period"].eq("2026-12").any()

    p2 = ledger[ledger["premises_id"] == P2]
    assert p2.iloc[0]["payment"] == 5000  # opening surplus
    assert (p2["payment"] == -5000).sum() == 1  # a returned payment in October
    november = p2[p2["description"] == "Wpłaty 11/2026"].iloc[0]
    assert november["date"] == "2026-11-20"  # the month's last day, but not after the as-of


@pytest.mark.parametrize("crlf", [True, False])
def test_round_trip_balance_equals_each_cards_closing_balance(tmp_path, toml, crlf):
    export = klonowa()
    export.crlf = crlf
    bundle = read(tmp_path, export, toml)
    for premises_id in (P1, P2, P3):
        assert balance(bundle, premises_id) == export.closing(premises_id)
    assert export.closing(P2) < 0 and export.closing(P1) != 0


def test_zip_reads_like_the_folder(tmp_path, toml):
    export = klonowa()
    folder = read(tmp_path, export, toml)
    zipped = legacy.read_legacy(export.write_zip(tmp_path / "export.zip"), communities_file=toml)
    flat = legacy.read_legacy(
        export.write_zip(tmp_path / "KLO11.zip", top_folder=False), communities_file=toml
    )
    for bundle in (zipped, flat):
        assert bundle.communities() == {"KLO11"}
        for table in ("premises", "ledger", "fees"):
            assert bundle.tables[table].equals(folder.tables[table])


def test_reimport_from_the_archive_keeps_the_community_id(tmp_path, toml, settings, capsys):
    from ebok.cli import main

    communities_toml(settings.communities_file)
    klonowa().write(settings.inbox_dir)
    assert main(["--data-dir", str(settings.data_dir), "sync", "--min-age", "0"]) == 0
    (archived,) = [p for p in settings.archive_dir.iterdir() if p.is_dir()]
    assert archived.name.endswith("-KLO11") and archived.name != "KLO11"
    bundle = legacy.read_legacy(archived, communities_file=toml)
    assert bundle.communities() == {"KLO11"}
    zipped = klonowa().write_zip(tmp_path / f"{archived.name}.zip", top_folder=False)
    assert legacy.read_legacy(zipped, communities_file=toml).communities() == {"KLO11"}


def test_decimal_dot_and_windows_1250_resave_are_read(tmp_path, toml):
    export = klonowa()
    folder = export.write(tmp_path / "inbox")
    lok = (folder / "lok.txt").read_bytes().decode("iso-8859-2")
    (folder / "lok.txt").write_bytes(lok.encode("cp1250"))
    wpl = (folder / "wplaty.txt").read_text("iso-8859-2")
    (folder / "wplaty.txt").write_text(wpl.replace(",", "."), "iso-8859-2")
    bundle = legacy.read_legacy(folder, communities_file=toml)
    premises = bundle.tables["premises"].set_index("premises_id")
    assert premises.loc[P2, "payer_name"] == "Spółka Śląsk #2 Sp. z o.o."
    assert premises.loc[P3, "payer_name"] == "Źródłowska Ąnna"
    assert balance(bundle, P1) == export.closing(P1)


def test_price_times_quantity_mismatch_is_a_warning_and_the_total_wins(tmp_path, toml):
    export = klonowa()
    export.charges.append(Charge(P3, "202611", 2, "Sprzątanie", "1", "szt", "10,00", total=1250))
    bundle = read(tmp_path, export, toml)
    assert any(
        "nal_czynsz.txt, line" in w and P3 in w and "12,50" in w and "10,00" in w
        for w in bundle.warnings
    )
    nov = bundle.tables["ledger"].query("premises_id == @P3 and period == '2026-11'").iloc[0]
    assert nov["charge"] == 8505 + 1250
    assert balance(bundle, P3) == export.closing(P3)


def test_unknown_files_are_named(tmp_path, toml):
    export = klonowa()
    export.extra_files = {"notatki.doc": b"x", "rozr.txt": b"1#2"}
    bundle = read(tmp_path, export, toml)
    assert any("KLO11/notatki.doc" in w and "unknown" in w for w in bundle.warnings)
    assert any("KLO11/rozr.txt" in w for w in bundle.warnings)


def kwiatowa() -> LegacyExport:
    code = "KWI5-KWI5-00000-00012M"
    return LegacyExport(
        community_id="KWI5",
        owners=[Owner("W000100", "Nowak Łucja", code, "12", street="Kwiatowa", building="5")],
        charges=[Charge(code, "202611", 1, "Zaliczka", "50", "m2", "2,00", owner="W000100")],
        cards=[CardSpec(code, 2026, "W000100", opening_surplus=2500, payments={11: 9000})],
    )


def test_a_folder_of_community_folders_is_one_bundle(tmp_path):
    toml = tmp_path / "communities.toml"
    communities_toml(toml)
    with open(toml, "a", encoding="utf-8") as fh:
        fh.write('[communities."KWI5"]\nbank_account = "PL61109010140000071219812874"\n')
    drop = tmp_path / "inbox" / "eksport-2026-11"
    klonowa().write(drop)
    kwi = kwiatowa()
    kwi.write(drop)
    (drop / "czytaj.txt").write_text("notatka", "utf-8")
    assert legacy.detect(drop)
    bundle = legacy.read_legacy(drop, communities_file=toml)
    assert bundle.communities() == {"KLO11", "KWI5"}
    assert balance(bundle, "KWI5-KWI5-00000-00012M") == kwi.closing("KWI5-KWI5-00000-00012M")
    assert balance(bundle, P2) == klonowa().closing(P2)
    assert any("eksport-2026-11/czytaj.txt" in w for w in bundle.warnings)
    assert any("community KWI5: no name" in w for w in bundle.warnings)

    zipped = tmp_path / "eksport.zip"
    with zipfile.ZipFile(zipped, "w") as zf:
        for export in (klonowa(), kwi):
            for name, data in export.files().items():
                zf.writestr(f"{export.community_id}/{name}", data)
    from_zip = legacy.read_legacy(zipped, communities_file=toml)
    assert from_zip.tables["ledger"].equals(bundle.tables["ledger"])

    broken = kwiatowa()
    broken.cards[0].closing = 0
    broken.write(drop)  # one community's error refuses the whole drop
    with pytest.raises(BundleRejected) as info:
        legacy.read_legacy(drop, communities_file=toml)
    assert [p.file for p in info.value.problems] == ["KWI5/wplaty.txt"]


def test_a_card_kept_for_someone_not_an_owner_is_a_warning(tmp_path, toml):
    export = klonowa()
    export.cards[2].owner = "W000777"
    bundle = read(tmp_path, export, toml)
    (warning,) = [w for w in bundle.warnings if "W000777" in w]
    assert "KLO11/wplaty.txt, line 3" in warning and P3 in warning and "W000004" in warning


# --- checks: the whole community is refused ----------------------------------------------


def test_closing_balance_that_does_not_add_up(tmp_path, toml):
    export = klonowa()
    right = export.closing(P2)
    export.cards[1].closing = right + 100  # one złoty off
    error = rejected(tmp_path, export, toml)
    (problem,) = error.problems
    assert problem.file == "KLO11/wplaty.txt" and problem.row == 2
    assert P2 in problem.reason
    right, wrong = (f"{g / 100:.2f}".replace(".", ",") for g in (right, right + 100))
    assert wrong in problem.reason and right in problem.reason


def test_closing_within_a_grosz_passes(tmp_path, toml):
    export = klonowa()
    export.cards[1].closing = export.closing(P2) + 1
    bundle = read(tmp_path, export, toml)
    assert balance(bundle, P2) == export.closing(P2)  # the card's own closing is what is shown
    ledger = bundle.tables["ledger"]
    (fix,) = ledger[ledger["description"] == "Zaokrąglenie do salda karty"].itertuples()
    assert (fix.premises_id, fix.payment, fix.charge, fix.date) == (P2, 1, 0, "2026-11-20")


def test_month_charges_differing_from_the_charge_lines(tmp_path, toml):
    export = klonowa()
    charges = export.month_charges(P3, 2026)
    card = export.cards[2]
    card.charges = {m: charges[m - 1] for m in range(1, 13)}
    card.charges[4] += 6  # 0,06 over the lines: refused
    card.charges[5] += 5  # 0,05: tolerated
    error = rejected(tmp_path, export, toml)
    (problem,) = error.problems
    assert problem.file == "KLO11/wplaty.txt" and problem.row == 3
    assert problem.column == "charges 04"
    assert P3 in problem.reason and "202604" in problem.reason
    assert "85,11" in problem.reason and "85,05" in problem.reason


def test_month_charged_on_the_card_without_any_lines(tmp_path, toml):
    export = klonowa()
    export.cards[2].charges = {m: 8505 for m in range(1, 13)}  # December has no lines
    error = rejected(tmp_path, export, toml)
    assert [p.column for p in error.problems] == ["charges 12"]
    assert "0,00" in error.problems[0].reason


def test_opening_differs_from_the_previous_published_year(tmp_path, toml, store):
    published = make_document(
        P1,
        community_id="KLO11",
        ledger=[ledger_row("2025-12-31", "Saldo", charge=11900)],
    )
    previous = publish_documents(store, [published])
    export = klonowa()  # the 2026 card opens with a 120,00 debt; 119,00 was published
    error = rejected(tmp_path, export, toml, previous=previous)
    (problem,) = error.problems
    assert problem.row == 1 and problem.column == "opening balance"
    assert P1 in problem.reason and "-120,00" in problem.reason and "-119,00" in problem.reason

    published["ledger"]["rows"][0][4] = 12000
    published["totals"].update(charges=12000, balance=-12000)
    previous = publish_documents(store, [published])
    assert balance(read(tmp_path / "again", export, toml, previous=previous), P1) == (
        export.closing(P1)
    )


def test_published_data_of_the_same_year_is_not_an_opening(tmp_path, toml, store):
    published = make_document(P1, community_id="KLO11")  # 2026 rows: a re-import of 2026
    previous = publish_documents(store, [published])
    bundle = read(tmp_path, klonowa(), toml, previous=previous)
    assert balance(bundle, P1) == klonowa().closing(P1)


def test_two_cards_for_one_premises_and_year(tmp_path, toml):
    export = klonowa()
    export.cards.append(CardSpec(P3, 2026, "W000009"))
    error = rejected(tmp_path, export, toml)
    duplicate = next(p for p in error.problems if p.column == "year")
    assert duplicate.row == 4 and P3 in duplicate.reason
    assert "W000009" in duplicate.reason and "line 3" in duplicate.reason


def test_two_years_in_one_export_must_chain(tmp_path, toml):
    export = klonowa(2025)
    later = klonowa(2026)
    export.charges += later.charges
    export.as_of = "20261120"
    p1_2025 = export.closing(P1)
    export.cards.append(CardSpec(P1, 2026, opening_debt=-p1_2025, payments={1: 100000}))
    bundle = read(tmp_path, export, toml)
    assert balance(bundle, P1) == export.closing(P1)
    openings = bundle.tables["ledger"].query("description == 'Bilans otwarcia'")
    assert list(openings["date"][openings["premises_id"] == P1]) == ["2025-01-01"]

    export.cards[-1].opening_debt += 500
    error = rejected(tmp_path / "again", export, toml)
    (problem,) = error.problems
    assert problem.row == 4 and "the 2025 card (line 1)" in problem.reason


def test_every_problem_is_listed_and_nothing_is_returned(tmp_path, toml):
    export = klonowa()
    export.cards[0].closing = 1
    export.cards[1].closing = 2
    export.charges.append(Charge("KLO11-XXX-00099M", "202601", 1, "Zaliczka", "1", "m2", "1,00"))
    error = rejected(tmp_path, export, toml)
    assert error.total == 3  # two closings that do not add up, a line for an unknown premises
    reasons = " | ".join(p.reason for p in error.problems)
    assert "KLO11-XXX-00099M" in reasons and P1 in reasons and P2 in reasons


def test_bad_lines_name_file_line_and_field(tmp_path, toml):
    export = klonowa()
    export.extra_files = {}
    folder = export.write(tmp_path / "inbox")
    lines = (folder / "nal_czynsz.txt").read_bytes().split(b"\r\n")
    lines[6] = lines[6].replace(b"#202603#", b"#2026-03#")
    lines[7] = b"W000001#" + P1.encode() + b"#only three"
    (folder / "nal_czynsz.txt").write_bytes(b"\r\n".join(lines))
    with pytest.raises(BundleRejected) as info:
        legacy.read_legacy(folder, communities_file=toml)
    found = {(p.file, p.row, p.column) for p in info.value.problems}
    assert ("KLO11/nal_czynsz.txt", 7, "period") in found
    assert ("KLO11/nal_czynsz.txt", 8, "") in found
    bad_period = next(p for p in info.value.problems if p.column == "period")
    assert P1 in bad_period.reason and bad_period.value == "2026-03"


def test_a_bad_owner_line_is_reported_once_and_other_persons_are_not_read(tmp_path, toml):
    export = klonowa()
    export.owners[3].share = ("523", "zero")
    export.others.append("N000010#Najemca bez reszty pól")  # not an owner: not even counted
    error = rejected(tmp_path, export, toml)
    (problem,) = error.problems
    assert (problem.file, problem.row, problem.column) == ("KLO11/lok.txt", 4, "share")
    assert P3 in problem.reason


def test_missing_bank_account_names_the_settings_file_and_community(tmp_path):
    settings_file = tmp_path / "communities.toml"
    error = rejected(tmp_path, klonowa(), settings_file)
    (problem,) = error.problems
    assert problem.column == "bank_account" and problem.file == "communities.toml"
    assert "KLO11" in problem.reason and str(settings_file) in problem.reason
    assert '[communities."KLO11"]' in problem.reason


def test_invalid_bank_account_is_refused(tmp_path):
    toml = communities_toml(
        tmp_path / "communities.toml", bank_account="61 1090 1014 0000 0712 1981 2875"
    )
    error = rejected(tmp_path, klonowa(), toml)
    assert [p.column for p in error.problems] == ["bank_account"]
    assert "not a valid NRB: wrong account number" in error.problems[0].reason


def test_bank_account_falls_back_to_the_published_community(tmp_path, store):
    previous = publish_documents(store, [make_document(P1, community_id="KLO11")])
    bundle = read(tmp_path, klonowa(), tmp_path / "absent.toml", previous=previous)
    assert bundle.tables["communities"].iloc[0]["bank_account"] == ACCOUNT_DIGITS
    assert any("no bank_account" in w for w in bundle.warnings)


def test_only_lok_and_wplaty_are_required(tmp_path, toml):
    export = klonowa()
    export.omit = ("nal_czynsz.txt", "pow_czynsz.txt", "klo11_ost_wys.wmb")
    bundle = read(tmp_path, export, toml)
    missing = {w.split(":")[0] for w in bundle.warnings if "missing" in w}
    assert missing == {"KLO11/nal_czynsz.txt", "KLO11/pow_czynsz.txt", "KLO11/*_ost_wys.wmb"}
    (community,) = bundle.tables["communities"].to_dict("records")
    assert (community["as_of"], community["as_of_parts"]) == ("2026-12-31", {})
    for premises_id in (P1, P2, P3):
        assert balance(bundle, premises_id) == export.closing(premises_id)


def test_zip_bomb_is_refused(tmp_path, toml):
    files = klonowa().files()
    files["nal_czynsz.txt"] = b"0" * (20 * 2**20)  # 20 MiB that deflate to a few kB
    path = tmp_path / "KLO11.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(f"KLO11/{name}", data)
    with pytest.raises(BundleRejected) as info:
        legacy.read_legacy(path, communities_file=toml)
    (problem,) = info.value.problems
    assert problem.file == "KLO11/nal_czynsz.txt" and "too large" in problem.reason


# --- end to end: the folder dropped into the inbox, `ebok sync`, `ebok show` -------------


def sync_and_show(settings, capsys, premises_id: str) -> tuple[int, dict]:
    from ebok.cli import main

    status = main(["--data-dir", str(settings.data_dir), "sync", "--min-age", "0"])
    capsys.readouterr()
    if status != 0:
        return status, {}
    assert main(["--data-dir", str(settings.data_dir), "show", premises_id]) == 0
    return status, json.loads(capsys.readouterr().out)


def test_dropped_folder_syncs_and_shows_the_cards_closing_balances(settings, capsys):
    export = klonowa()
    export.write(settings.inbox_dir)
    # A new user has no communities.toml yet: refused, and the report says what to add.
    status, _ = sync_and_show(settings, capsys, P1)
    assert status == 1
    (report,) = settings.rejected_dir.glob("*.report.txt")
    text = report.read_text("utf-8")
    assert '[communities."KLO11"]' in text and "bank_account" in text
    assert SnapshotStore(settings.snapshots_dir).current() is None

    communities_toml(settings.communities_file)
    export.write(settings.inbox_dir)
    for premises_id in (P1, P2, P3):
        status, shown = sync_and_show(settings, capsys, premises_id)
        assert status == 0
        closing = Decimal(export.closing(premises_id)).scaleb(-2)
        assert Decimal(shown["totals"]["balance"]) == closing
    assert shown["community"]["bank_account"] == ACCOUNT_DIGITS
    assert shown["community"]["fee_notes"]["footer"].startswith("Wpłaty prosimy")
    assert shown["premises"]["payer_name"] == "Źródłowska Ąnna"
    june = next(r for r in shown["ledger"]["rows"] if r[3] == "2026-06")
    assert june[8][0]["description"] == "Zaliczka na koszty zarządu"
    assert not list(settings.inbox_dir.iterdir())  # archived


def test_next_year_continues_the_published_balance_or_is_refused(settings, capsys):
    communities_toml(settings.communities_file)
    first = klonowa(2025)
    first.as_of = "20251231"
    first.write(settings.inbox_dir)
    assert sync_and_show(settings, capsys, P1)[0] == 0
    store = SnapshotStore(settings.snapshots_dir)
    published = store.current().id

    following = klonowa(2026)
    for card in following.cards:  # each opens with a grosz-exact copy of the 2025 closing...
        closing = first.closing(card.premises)
        card.opening_debt, card.opening_surplus = max(-closing, 0), max(closing, 0)
    following.cards[2].opening_surplus += 100  # ...except P3, off by 1,00
    following.write(settings.inbox_dir)
    status, _ = sync_and_show(settings, capsys, P1)
    assert status == 1 and store.current().id == published  # the 2025 data stays
    text = next(settings.rejected_dir.glob("*.report.txt")).read_text("utf-8")
    assert P3 in text and "opening balance" in text

    following.cards[2].opening_surplus -= 100
    following.write(settings.inbox_dir)
    status, shown = sync_and_show(settings, capsys, P3)
    assert status == 0
    assert Decimal(shown["totals"]["balance"]) == Decimal(following.closing(P3)).scaleb(-2)


def test_the_resident_sees_the_cards_closing_balance_breakdown_and_notes(
    settings, capsys, signed_in
):
    from portal.premises.page import premises_url
    from portal.web.format import money

    communities_toml(settings.communities_file)
    export = klonowa()
    export.write(settings.inbox_dir)
    assert sync_and_show(settings, capsys, P1)[0] == 0
    resident = signed_in(P1, login="kowalski")

    overview = resident.get(premises_url(P1))
    assert overview.status_code == 200
    assert html.unescape(money(export.closing(P1))) in html.unescape(overview.text)
    ledger = html.unescape(resident.get(premises_url(P1, "ledger")).text)
    assert "Wyrównanie zaliczek" in ledger and "Bilans otwarcia" in ledger
    fees = html.unescape(resident.get(premises_url(P1, "fees")).text)
    assert "od 1 stycznia zmieniają się stawki" in fees
    assert "Wpłaty prosimy kierować na rachunek wspólnoty." in fees
    assert resident.get(premises_url(P2)).status_code in (403, 404)  # not this resident's


def test_a_zip_dropped_into_the_inbox_syncs_too(settings, capsys):
    communities_toml(settings.communities_file)
    export = klonowa()
    settings.inbox_dir.mkdir(parents=True, exist_ok=True)
    export.write_zip(settings.inbox_dir / "KLO11.zip", top_folder=False)
    status, shown = sync_and_show(settings, capsys, P2)
    assert status == 0
    assert Decimal(shown["totals"]["balance"]) == Decimal(export.closing(P2)).scaleb(-2)
    assert shown["community"]["community_id"] == "KLO11"
