"""History across imports (etl/publisher/history.py, docs/import-format.md): an export of
the current year keeps the earlier years, and its opening balance must match the published one.

test_spilled_ledger.py runs the kept-history cases here again on a spilled ledger by patching
`publish` in this module: call it by that name."""

from __future__ import annotations

from typing import Any

import pytest

from etl.publisher.history import HistoryMismatch, is_opening
from etl.publisher.publish import publish
from etl.snapshot.store import SnapshotStore
from tests.etl.builders import YEAR_2025, bundle, entry, export, year_2026


def described(doc: dict[str, Any]) -> list[tuple[str, str, int, int]]:
    return [(r[0], r[2], r[4], r[5]) for r in doc["ledger"]["rows"]]


def test_an_export_of_the_current_year_keeps_the_earlier_years(store: SnapshotStore) -> None:
    publish(export(YEAR_2025), store)
    result = publish(export(year_2026(10000)), store)
    assert result.changed
    doc = store.current().document("KW5/12")
    # 2025 as published (its opening row included: nothing was published before it), then
    # 2026 without its opening row: the kept rows already come to its 100,00.
    assert described(doc) == [
        ("2025-01-01", "Bilans otwarcia", 5000, 0),
        ("2025-01-10", "Naliczenie 01/2025", 45000, 0),
        ("2025-01-20", "Wpłata", 0, 40000),
        ("2025-12-10", "Naliczenie 12/2025", 45000, 0),
        ("2025-12-20", "Wpłata", 0, 65000),
        ("2026-01-10", "Naliczenie 01/2026", 46000, 0),
        ("2026-01-15", "Wpłata", 0, 46000),
    ]
    assert doc["totals"] == {
        "charges": 141000,
        "payments": 151000,
        "balance": 10000,
        "monthly_fees": 17105,
    }
    # Kept rows still point at the export they came from.
    assert [r[7] for r in doc["ledger"]["rows"]] == [2, 3, 4, 5, 6, 3, 4]
    assert store.current().manifest["communities"]["WM-KW5"]["ledger"] == 7
    # The same export again changes nothing.
    assert not publish(export(year_2026(10000)), store).changed


def test_an_overlapping_export_replaces_the_published_rows_from_its_first_date_on(
    store: SnapshotStore,
) -> None:
    publish(export(YEAR_2025), store)
    publish(export(year_2026(10000)), store)
    november = [
        *year_2026(10000),
        entry("KW5/12", "2026-02-10", "Naliczenie 02/2026", charge=46000),
        entry("KW5/12", "2026-02-11", "Korekta wpłaty", payment=-1000),
    ]
    publish(export(november), store)
    doc = store.current().document("KW5/12")
    assert [d for d, *_ in described(doc)] == [
        "2025-01-01", "2025-01-10", "2025-01-20", "2025-12-10", "2025-12-20",
        "2026-01-10", "2026-01-15", "2026-02-10", "2026-02-11",
    ]  # fmt: skip
    assert doc["totals"]["balance"] == 10000 - 46000 - 1000
    # An export from an earlier date on replaces more: from 2025-12-01, with an opening
    # balance equal to the published one on 2025-11-30 (-100,00).
    december = [
        entry("KW5/12", "2025-12-01", "BO 12/2025", charge=10000),
        entry("KW5/12", "2025-12-10", "Naliczenie 12/2025", charge=45000),
        entry("KW5/12", "2025-12-20", "Wpłata", payment=65000),
        entry("KW5/12", "2026-01-10", "Naliczenie 01/2026", charge=46000),
        entry("KW5/12", "2026-01-15", "Wpłata", payment=46000),
        entry("KW5/12", "2026-02-10", "Naliczenie 02/2026", charge=46000),
        entry("KW5/12", "2026-02-15", "Wpłata", payment=46000),
    ]
    publish(export(december), store)
    doc = store.current().document("KW5/12")
    assert [r[1] for r in described(doc)] == [
        "Bilans otwarcia", "Naliczenie 01/2025", "Wpłata", "Naliczenie 12/2025", "Wpłata",
        "Naliczenie 01/2026", "Wpłata", "Naliczenie 02/2026", "Wpłata",
    ]  # fmt: skip
    assert doc["totals"]["balance"] == 10000


def test_an_opening_balance_that_differs_from_the_published_one_is_refused(
    store: SnapshotStore,
) -> None:
    first = publish(export(YEAR_2025), store)
    with pytest.raises(HistoryMismatch) as caught:
        publish(export(year_2026(12000)), store)
    (problem,) = caught.value.problems
    assert (problem.file, problem.table, problem.row, problem.column, problem.value) == (
        "ledger.csv", "ledger", 2, "payment", "120,00"
    )  # fmt: skip
    assert problem.reason == (
        "opening balance 120,00 differs from the published balance 100,00 on 2025-12-31 "
        "for premises KW5/12"
    )
    assert "--replace-history" in caught.value.report()
    assert store.current().id == first.generation
    assert store.current().document("KW5/12")["totals"]["balance"] == 10000
    # A debt as the opening balance: the charge cell, and the balance with its sign.
    with pytest.raises(HistoryMismatch) as caught:
        publish(export(year_2026(-10000)), store)
    (problem,) = caught.value.problems
    assert (problem.column, problem.value) == ("charge", "100,00")
    assert problem.reason.startswith("opening balance -100,00 differs from the published")


@pytest.mark.parametrize(
    "description",
    ["Bilans otwarcia", "BILANS OTWARCIA 2026", "Saldo początkowe", "saldo poczatkowe",
     "Saldo początkowe na dzień 01.01.2026 r.", "BO", "B.O. 2026", "Saldo otwarcia"],
)  # fmt: skip
def test_opening_rows_are_recognised_by_their_description(description: str) -> None:
    assert is_opening(description)


@pytest.mark.parametrize(
    "description", ["", "Bonifikata", "Bilans zamknięcia", "Wpłata BO", "Saldo", "Obroty"]
)
def test_other_rows_are_not_opening_rows(description: str) -> None:
    assert not is_opening(description)


def test_an_export_without_an_opening_row_continues_a_settled_history(
    store: SnapshotStore,
) -> None:
    settled = [*YEAR_2025, entry("KW5/12", "2025-12-31", "Zwrot nadpłaty", payment=-10000)]
    publish(export(settled), store)
    publish(export(year_2026()[1:]), store)
    doc = store.current().document("KW5/12")
    assert len(doc["ledger"]["rows"]) == 8 and doc["totals"]["balance"] == 0


def test_an_export_without_an_opening_row_after_an_unsettled_history_is_refused(
    store: SnapshotStore,
) -> None:
    publish(export(YEAR_2025), store)
    with pytest.raises(HistoryMismatch) as caught:
        publish(export(year_2026()[1:]), store)
    (problem,) = caught.value.problems
    assert (problem.file, problem.row, problem.column, problem.value) == (
        "ledger.csv", 2, "description", "Naliczenie 01/2026"
    )  # fmt: skip
    assert problem.reason == (
        "opening balance 0,00 (no opening balance row such as `Bilans otwarcia` on 2026-01-10, "
        "the export's first date) differs from the published balance 100,00 on 2026-01-09 "
        "for premises KW5/12"
    )


def test_a_premises_without_rows_in_the_export_keeps_its_history_only_when_settled(
    store: SnapshotStore,
) -> None:
    settled = [entry("KW5/13", "2025-03-01", "Naliczenie", charge=100),
               entry("KW5/13", "2025-03-02", "Wpłata", payment=100)]  # fmt: skip
    publish(export([*YEAR_2025, *settled], ("KW5/12", "KW5/13")), store)
    publish(export(year_2026(), ("KW5/12", "KW5/13")), store)
    gen = store.current()
    assert len(gen.document("KW5/13")["ledger"]["rows"]) == 2
    assert gen.document("KW5/13")["totals"]["balance"] == 0
    # KW5/12 owes nothing either way, but a premises with a balance cannot lose it silently.
    with pytest.raises(HistoryMismatch) as caught:
        publish(export(settled, ("KW5/12", "KW5/13")), store)
    (problem,) = caught.value.problems
    assert (problem.file, problem.table, problem.row, problem.column, problem.value) == (
        "ledger.csv", "ledger", None, "premises_id", "KW5/12"
    )  # fmt: skip
    assert problem.reason == (
        "no ledger rows for premises KW5/12 in this export, so its balance would be 0,00, "
        "but the published balance on 2026-01-15 is 100,00 (is the export cut short?)"
    )


def test_a_legacy_opening_may_differ_by_a_grosz_and_the_card_balance_is_shown(
    store: SnapshotStore,
) -> None:
    publish(export(YEAR_2025), store)
    contract = export(year_2026(10001))
    with pytest.raises(HistoryMismatch):
        publish(contract, store)
    legacy = export(year_2026(10001))
    legacy.kind = "legacy"
    publish(legacy, store)
    doc = store.current().document("KW5/12")
    assert described(doc)[5:] == [
        ("2026-01-01", "Zaokrąglenie do salda karty", 0, 1),
        ("2026-01-10", "Naliczenie 01/2026", 46000, 0),
        ("2026-01-15", "Wpłata", 0, 46000),
    ]
    assert doc["totals"]["balance"] == 10001  # the card's: its opening 100,01 + 0
    off_by_two = export(year_2026(10003))
    off_by_two.kind = "legacy"
    with pytest.raises(HistoryMismatch):
        publish(off_by_two, store)


def test_replace_history_drops_the_earlier_years(store: SnapshotStore) -> None:
    publish(export(YEAR_2025[:2]), store)
    publish(export(year_2026(12000)), store, replace_history=True)
    doc = store.current().document("KW5/12")
    assert [r[1] for r in described(doc)] == ["Bilans otwarcia", "Naliczenie 01/2026", "Wpłata"]
    assert doc["totals"]["balance"] == 12000


def test_a_lone_ledger_for_a_later_period_keeps_history_too(store: SnapshotStore) -> None:
    publish(export(YEAR_2025), store)
    publish(bundle(ledger=year_2026(10000)), store)
    doc = store.current().document("KW5/12")
    assert len(doc["ledger"]["rows"]) == 7 and doc["totals"]["balance"] == 10000
