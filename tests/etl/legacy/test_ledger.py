"""Ledger rows made from the account cards (etl/legacy/ledger.py): the opening balance, each
month's charge with its breakdown (a negative correction too) and its payments, adding up to
each card's own closing balance."""

from __future__ import annotations

import pytest

from tests.etl.legacy_builders import P1, P2, P3, balance, klonowa, read


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
