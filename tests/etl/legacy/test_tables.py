"""The legacy export mapped onto the premises and fees tables (etl/legacy/tables.py): Latin-2
names, a `#` in a name, co-owners joined, a tenant who is not an owner skipped; fees keep
sub-grosz quantities and the totals the file gives."""

from __future__ import annotations

from tests.etl.legacy_builders import P1, P2, P3, klonowa, read


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


def test_fees_keep_sub_grosz_quantities_and_given_totals(tmp_path, toml):
    fees = read(tmp_path, klonowa(), toml).tables["fees"]
    water = fees[fees["component"] == "Woda zimna"].iloc[0]
    assert (water["quantity"], water["rate"], water["basis"]) == ("3.456789", "12.3456", "m3")
    assert water["amount"] == 4268  # 3,456789 × 12,3456 = 42,676… → 42,68 as the file says
    assert fees[fees["premises_id"] == P1]["amount"].sum() == 11403 + 17105 + 4268
