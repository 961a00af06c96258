"""Finding the files of a legacy export (etl/legacy/source.py): the community folder, its
parent, a folder of community folders, a ZIP with or without its top folder, an archived
folder's timestamped name; unknown files are named and a zip bomb is refused."""

from __future__ import annotations

import zipfile

import pytest

from etl.legacy import reader as legacy
from etl.model import BundleRejected
from tests.etl.legacy_builders import (
    P2,
    CardSpec,
    Charge,
    LegacyExport,
    Owner,
    balance,
    communities_toml,
    klonowa,
    read,
)


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
