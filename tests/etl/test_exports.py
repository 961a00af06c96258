from pathlib import Path

from etl.exports import read_export
from tests.etl.builders import minimal_tables, write_csv_bundle
from tests.etl.legacy_builders import communities_toml, klonowa


def test_the_legacy_export_goes_to_its_own_reader(tmp_path: Path) -> None:
    folder = klonowa().write(tmp_path / "inbox")
    toml = communities_toml(tmp_path / "communities.toml")
    bundle = read_export(folder, communities_file=toml)
    assert bundle.kind == "legacy"
    assert bundle.communities() == {"KLO11"}


def test_a_contract_bundle_goes_to_the_bundle_reader(tmp_path: Path) -> None:
    folder = write_csv_bundle(tmp_path / "bundle", minimal_tables())
    bundle = read_export(folder)
    assert bundle.kind == "contract"
    assert "ledger" in bundle.tables
