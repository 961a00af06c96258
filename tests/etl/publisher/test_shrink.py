"""The shrink guard (etl/publisher/shrink.py, docs/import-format.md): an export that would
remove much of what is published is refused with the figures, unless shrinking is allowed; the
earlier years kept by history across imports are not a shrink.

test_spilled_ledger.py runs test_kept_history_is_not_a_shrink again on a spilled ledger by
patching `publish` in this module: call it by that name."""

from __future__ import annotations

import pytest

from etl.publisher.publish import publish
from etl.publisher.shrink import ShrinkRefused
from etl.snapshot.store import SnapshotStore
from tests.etl.builders import YEAR_2025, entry, export, full, year_2026


def test_an_export_that_loses_a_premises_is_refused_with_the_figures(
    store: SnapshotStore,
) -> None:
    first = publish(full("WM-A", ("A/1", "A/2", "A/3")), store)
    with pytest.raises(ShrinkRefused) as caught:
        publish(full("WM-A", ("A/1", "A/2")), store)
    problems = {p.table: p for p in caught.value.problems}
    assert set(problems) == {"premises", "ledger", "fees"}
    premises_problem = problems["premises"]
    assert (premises_problem.file, premises_problem.column, premises_problem.value) == (
        "premises.csv", "premises", "3 -> 2"
    )  # fmt: skip
    assert premises_problem.reason == (
        "community WM-A: this export would remove 1 of the 3 published premises (A/3) "
        "(33.3%; none may be removed): published 3, this export 2"
    )
    assert problems["ledger"].reason == (
        "community WM-A: this export would remove 2 of the 6 published ledger rows "
        "(33.3%; at most 20%): published 6, this export 4"
    )
    assert "--allow-shrink" in caught.value.report()
    assert store.current().id == first.generation
    assert publish(full("WM-A", ("A/1", "A/2")), store, allow_shrink=True).changed
    assert store.current().premises_ids() == ["A/1", "A/2"]


def test_fee_lines_may_shrink_by_a_fifth_at_most(store: SnapshotStore) -> None:
    pids = tuple(f"A/{n}" for n in range(1, 6))
    publish(full("WM-A", pids), store)
    fewer = full("WM-A", pids)
    fewer.tables["fees"] = fewer.tables["fees"].iloc[:4]  # 5 -> 4: 20%, allowed
    assert publish(fewer, store).changed
    fewer.tables["fees"] = fewer.tables["fees"].iloc[:3]  # 4 -> 3: 25%
    with pytest.raises(ShrinkRefused) as caught:
        publish(fewer, store)
    (problem,) = caught.value.problems
    assert (problem.table, problem.value) == ("fees", "4 -> 3")
    assert "remove 1 of the 4 published fee lines (25%; at most 20%)" in problem.reason


def test_kept_history_is_not_a_shrink(store: SnapshotStore) -> None:
    many = [*YEAR_2025] + [
        entry("KW5/12", f"2025-06-{day:02d}", "Naliczenie", charge=0, payment=1) for day in (1, 2)
    ]
    many.append(entry("KW5/12", "2025-12-31", "Korekta", charge=2))
    publish(export(many), store)  # 8 rows, 100,00 overpaid
    publish(export(year_2026(10000)), store)  # 3 rows of which 1 opening: 10 rows in all
    assert store.current().manifest["communities"]["WM-KW5"]["ledger"] == 10


def test_an_export_cut_short_in_the_ledger_is_refused(store: SnapshotStore) -> None:
    publish(export(YEAR_2025), store)
    publish(export(year_2026(10000)), store)
    cut = [*year_2026(10000)[:1]]  # the 2026 rows are gone but the opening is there
    cut_all = export(cut)
    before = store.current().id
    # 7 published rows -> 5 kept + 0: 28.6% of the rows would go.
    with pytest.raises(ShrinkRefused) as caught:
        publish(cut_all, store)
    (problem,) = caught.value.problems
    assert (problem.table, problem.value) == ("ledger", "7 -> 5")
    assert store.current().id == before
    # A header-only ledger with --replace-history would wipe everything: refused as well.
    empty = export([])
    with pytest.raises(ShrinkRefused) as caught:
        publish(empty, store, replace_history=True)
    (problem,) = caught.value.problems
    assert (problem.table, problem.value) == ("ledger", "7 -> 0")
    publish(empty, store, replace_history=True, allow_shrink=True)
    assert store.current().document("KW5/12")["totals"]["balance"] == 0
