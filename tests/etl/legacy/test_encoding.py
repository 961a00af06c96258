"""Encodings of the legacy `#` export: documented ISO-8859-2, but re-saved as Windows-1250 or
UTF-8 by an editor. Each file is read with the code page that yields Polish text, or the export
is refused naming the file and showing both readings; never a silently misread letter. A
re-save that also turns the decimal commas into dots is read as well."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.legacy import reader as legacy
from etl.legacy.fields import decode
from etl.model import BundleRejected
from etl.reader.encoding import EncodingRefused
from tests.etl.legacy_builders import P1, P2, P3, Owner, balance, klonowa

POLISH = "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ"


def ascii_export(name: str):
    """Klonowa with ASCII names and city, except `name` (the only owner of P3)."""
    export = klonowa()
    export.owners = [
        Owner("W000001", "Kowalski Jan", export.owners[0].premises, "1", city="Krakow"),
        Owner("W000003", "Spolka Slask #2", export.owners[2].premises, "2", city="Krakow",
              share=("1120", "10000")),
        Owner("W000004", name, P3, "4", city="Krakow"),
    ]  # fmt: skip
    export.others = []
    return export


def write_lok(tmp_path: Path, name: str, code_page: str) -> Path:
    export = ascii_export(name)
    folder = export.write(tmp_path / "inbox")
    text = (folder / "lok.txt").read_bytes().decode("iso-8859-2")
    (folder / "lok.txt").write_bytes(text.encode(code_page))
    return folder


@pytest.mark.parametrize("code_page", ["cp1250", "iso-8859-2", "utf-8"])
@pytest.mark.parametrize("letter", list(POLISH))
def test_each_polish_letter_alone_in_lok_txt_is_read_correctly(
    tmp_path: Path, toml: Path, letter: str, code_page: str
) -> None:
    name = f"W{letter}sowski Adam"
    folder = write_lok(tmp_path, name, code_page)
    try:
        bundle = legacy.read_legacy(folder, communities_file=toml)
    except BundleRejected as exc:
        pytest.fail(f"refused, though one letter decides: {exc.report()}")
    premises = bundle.tables["premises"].set_index("premises_id")
    assert premises.loc[P3, "payer_name"] == name


def test_an_ambiguous_lok_txt_is_refused_naming_the_file_and_both_readings(
    tmp_path: Path, toml: Path
) -> None:
    # ą as Windows-1250 writes it in one name, ± (ą in ISO-8859-2) in another: a tie.
    folder = ascii_export("Nowak PLUSMINUS Adam").write(tmp_path / "inbox")
    text = (folder / "lok.txt").read_bytes().decode("iso-8859-2")
    text = text.replace("Kowalski Jan", "Wąsowski Jan").replace("PLUSMINUS", "±")
    (folder / "lok.txt").write_bytes(text.encode("cp1250"))
    with pytest.raises(BundleRejected) as info:
        legacy.read_legacy(folder, communities_file=toml)
    (problem,) = info.value.problems
    assert problem.file == "KLO11/lok.txt"
    assert problem.reason == (
        'cannot tell the encoding: "Wąsowski" (Windows-1250) or "Wšsowski" (ISO-8859-2) '
        "in line 1; save the file as UTF-8"
    )


def test_mixed_letters_decide_per_file(tmp_path: Path, toml: Path) -> None:
    # The builder's own export: ISO-8859-2 everywhere; lok.txt re-saved as Windows-1250.
    export = klonowa()
    folder = export.write(tmp_path / "inbox")
    text = (folder / "lok.txt").read_bytes().decode("iso-8859-2")
    (folder / "lok.txt").write_bytes(text.encode("cp1250"))
    bundle = legacy.read_legacy(folder, communities_file=toml)
    payers = set(bundle.tables["premises"]["payer_name"])
    assert "Źródłowska Ąnna" in payers
    assert any("Spółka Śląsk" in p for p in payers)
    notes = bundle.tables["communities"]["fee_notes"].iloc[0]
    assert "zmieniają" in notes["header"]  # pow_czynsz.txt stayed ISO-8859-2


def test_decode_names_the_file_it_refuses() -> None:
    assert decode("Wąsowski".encode("cp1250"), "KLO11/lok.txt") == "Wąsowski"
    assert decode("Wąsowski".encode("iso-8859-2"), "KLO11/lok.txt") == "Wąsowski"
    assert decode("\ufeffWąsowski".encode(), "KLO11/lok.txt") == "Wąsowski"
    with pytest.raises(EncodingRefused) as info:
        decode("Wąsowski ±".encode("cp1250"), "KLO11/lok.txt")
    assert info.value.name == "KLO11/lok.txt"
    assert "Wšsowski" in info.value.reason


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
