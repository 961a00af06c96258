"""Charge lines read column-wise (etl/legacy/charges.py): a total that is not quantity × price
is a warning naming the file, the line and both figures, and the total is charged as given."""

from __future__ import annotations

from tests.etl.legacy_builders import P3, Charge, balance, klonowa, read


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
