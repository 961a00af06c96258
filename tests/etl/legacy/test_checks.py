"""Balance checks on the legacy export (etl/legacy/checks.py): the cards must agree with
themselves, with the charge lines and with what was published, or the whole community is
refused with every problem listed; a card kept for someone not an owner is only a warning."""

from __future__ import annotations

from tests.builders import ledger_row, make_document, publish_documents
from tests.etl.legacy_builders import P1, P2, P3, CardSpec, Charge, balance, klonowa, read, rejected


def test_a_card_kept_for_someone_not_an_owner_is_a_warning(tmp_path, toml):
    export = klonowa()
    export.cards[2].owner = "W000777"
    bundle = read(tmp_path, export, toml)
    (warning,) = [w for w in bundle.warnings if "W000777" in w]
    assert "KLO11/wplaty.txt, line 3" in warning and P3 in warning and "W000004" in warning


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
