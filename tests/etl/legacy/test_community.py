"""The community row of a legacy export (etl/legacy/community.py): its name and bank account
from communities.toml, else the published community's; a missing or invalid account refuses
the export naming the settings file and the community. The as-of date and fee notes join it."""

from __future__ import annotations

from tests.builders import make_document, publish_documents
from tests.etl.legacy_builders import ACCOUNT_DIGITS, P1, communities_toml, klonowa, read, rejected


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
