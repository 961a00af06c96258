"""A ledger too big for memory is spilled to disk in premises buckets (etl.reader.spill) and
published a bucket at a time: residents must see exactly what an import held in memory shows
them, and an accountant exactly the same problems.

The thresholds are lowered here so that a small demo export is spilled into many buckets."""

from __future__ import annotations

import copy
import errno
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ebok.settings import Settings
from etl.demo.generate import generate
from etl.model import COLUMNS, SOURCE_COLUMNS, Bundle, BundleRejected
from etl.publisher.publish import PublishResult, publish
from etl.reader import spill
from etl.reader.bundle import read_bundle
from etl.reader.spill import SpilledTable
from etl.reader.stream import Coded
from etl.snapshot.store import SnapshotStore
from etl.sync import import_path
from tests.etl.builders import minimal_tables, write_csv_bundle
from tests.etl.publisher import test_history as history
from tests.etl.publisher import test_shrink as shrink


def _spill_everything(monkeypatch: pytest.MonkeyPatch, rows: int) -> None:
    """Every ledger spilled, in buckets of `rows` rows."""
    monkeypatch.setattr(spill, "SPILL_ABOVE", 0)
    monkeypatch.setattr(spill, "BUCKET_BYTES", rows)
    monkeypatch.setattr(spill, "BYTES_PER_ROW", 1)


@pytest.fixture
def spilling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ledger spilled, a premises a bucket."""
    _spill_everything(monkeypatch, 1)


def _import(store: SnapshotStore, path: Path, work: Path | None = None) -> PublishResult:
    return publish(read_bundle(path, previous=store.current(), work_dir=work), store)


def _documents(store: SnapshotStore) -> dict[str, str]:
    generation = store.current()
    assert generation is not None
    return {pid: generation.document_json(pid) or "" for pid in generation.premises_ids()}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("demo") / "bundle"
    generate(out, communities=3, premises=40, months=6, seed=3)
    return out


def test_a_spilled_ledger_publishes_what_one_in_memory_does(
    tmp_path: Path, demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_memory = SnapshotStore(tmp_path / "memory")
    _import(in_memory, demo)

    _spill_everything(monkeypatch, 30)
    bundle = read_bundle(demo, work_dir=tmp_path / "work")
    ledger = bundle.tables["ledger"]
    assert isinstance(ledger, SpilledTable) and ledger.buckets > 5
    assert list((tmp_path / "work").iterdir()) == []  # anonymous files: nothing left behind
    spilled = SnapshotStore(tmp_path / "spilled")
    publish(bundle, spilled)

    assert _documents(spilled) == _documents(in_memory)
    a, b = spilled.current(), in_memory.current()
    assert a is not None and b is not None
    assert a.manifest["content_digest"] == b.manifest["content_digest"]
    assert a.manifest["communities"] == b.manifest["communities"]
    assert a.manifest["counts"]["ledger"] == len(ledger) > 0


def test_a_re_import_of_a_spilled_ledger_rebuilds_only_what_changed(
    tmp_path: Path, spilling: None
) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    tables = minimal_tables()
    write_csv_bundle(tmp_path / "a", tables)
    assert _import(store, tmp_path / "a").rebuilt == 2

    changed = copy.deepcopy(tables)
    changed["ledger"][3]["charge"] = "-13,00"  # KW5/G-3's only row
    write_csv_bundle(tmp_path / "b", changed)
    again = _import(store, tmp_path / "b")
    assert again.changed and again.rebuilt == 1

    fresh = SnapshotStore(tmp_path / "fresh")
    _import(fresh, tmp_path / "b")
    assert _documents(store) == _documents(fresh)


def _problems(path: Path) -> list[Any]:
    with pytest.raises(BundleRejected) as caught:
        read_bundle(path)
    return list(caught.value.problems)


def test_a_spilled_ledger_names_the_same_unknown_premises_and_bad_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = minimal_tables()
    row = tables["ledger"][0]
    tables["ledger"] += [
        {**row, "premises_id": "KW5/99"},
        {**row, "date": "31.02.2026"},
        {**row, "premises_id": "KW5/98"},
        {**row, "premises_id": "KW5/99", "description": "Korekta"},
    ]
    write_csv_bundle(tmp_path / "b", tables)
    in_memory = _problems(tmp_path / "b")
    assert [p.row for p in in_memory if "unknown premises" in p.reason] == [6, 8, 9]

    _spill_everything(monkeypatch, 1)
    assert _problems(tmp_path / "b") == in_memory


def test_a_lone_spilled_ledger_refreshes_only_the_ledger(tmp_path: Path, spilling: None) -> None:
    """A partial bundle takes the rest of each document from the published one."""
    tables = minimal_tables()
    store = SnapshotStore(tmp_path / "snapshots")
    write_csv_bundle(tmp_path / "full", tables)
    _import(store, tmp_path / "full")
    ledger = {"ledger": copy.deepcopy(tables["ledger"])}
    ledger["ledger"][0]["charge"] = "-1,00"
    write_csv_bundle(tmp_path / "ledger", ledger)
    _import(store, tmp_path / "ledger")

    fresh = SnapshotStore(tmp_path / "fresh")
    tables["ledger"] = ledger["ledger"]
    write_csv_bundle(tmp_path / "fresh-bundle", tables)
    _import(fresh, tmp_path / "fresh-bundle")
    assert _documents(store) == _documents(fresh)


def test_a_premises_rows_meet_in_its_bucket_however_the_file_orders_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Buckets fill in file order; a premises that comes back later joins its bucket."""
    tables = minimal_tables()
    first, *rest = tables["ledger"]
    tables["ledger"] = [*rest, first]  # KW5/1, KW5/1, KW5/G-3, then KW5/1 again
    _spill_everything(monkeypatch, 2)
    ledger = read_bundle(write_csv_bundle(tmp_path / "b", tables)).tables["ledger"]
    assert isinstance(ledger, SpilledTable) and ledger.buckets == 2
    assert ledger.bucket_of(["KW5/1", "KW5/G-3", "KW5/7"]).tolist() == [0, 1, -1]
    assert ledger.frame(0)["_row"].tolist() == [2, 3, 5]
    assert ledger.frame(1)["premises_id"].tolist() == ["KW5/G-3"]


def test_a_bucket_taken_for_publishing_lets_go_of_its_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Publishing takes each bucket once; its file is closed then, so the page cache it held
    is free for the documents written next (the other buckets stay readable)."""
    _spill_everything(monkeypatch, 2)
    ledger = read_bundle(write_csv_bundle(tmp_path / "b", minimal_tables())).tables["ledger"]
    assert isinstance(ledger, SpilledTable) and ledger.buckets == 2
    expected = ledger.frame(0)
    taken = ledger.take(0)
    pd.testing.assert_frame_equal(taken, expected)
    assert ledger.files[0].closed and not ledger.files[1].closed
    assert ledger.frame(1)["premises_id"].tolist() == ["KW5/G-3"]
    ledger.close()  # closing a taken bucket's file again is harmless


def _spilled(frame: pd.DataFrame, buckets: int, work: Path) -> SpilledTable:
    """A ledger frame as the reader spills it: its rows in blocks of two, coded."""
    columns = [*COLUMNS["ledger"], *SOURCE_COLUMNS]
    sink = spill.Spill(columns, work, bucket_rows=buckets)
    for start in range(0, len(frame), 2):
        block = frame.iloc[start : start + 2]
        part: dict[str, Any] = {}
        for name in columns:
            if name not in block.columns or name in ("_file", "details"):
                continue
            if block[name].dtype.kind in "iu":
                part[name] = block[name].to_numpy()
            else:
                codes, values = pd.factorize(block[name].fillna(""))
                part[name] = Coded(codes.astype(np.int8), values.tolist())
        sink.add(part)
    return sink.table("ledger", str(frame["_file"].iloc[0]) if len(frame) else "ledger.csv")


HISTORY_CASES = [
    history.test_an_export_of_the_current_year_keeps_the_earlier_years,
    history.test_an_export_without_an_opening_row_continues_a_settled_history,
    history.test_an_export_without_an_opening_row_after_an_unsettled_history_is_refused,
    history.test_a_premises_without_rows_in_the_export_keeps_its_history_only_when_settled,
    history.test_replace_history_drops_the_earlier_years,
    history.test_a_lone_ledger_for_a_later_period_keeps_history_too,
    shrink.test_kept_history_is_not_a_shrink,
]


@pytest.mark.parametrize("case", HISTORY_CASES, ids=lambda case: case.__name__[5:])
def test_kept_history_follows_the_same_rules_for_a_spilled_ledger(
    case: Any, store: SnapshotStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = sys.modules[case.__module__]  # the case calls `publish` by its module's name
    real = module.publish
    spilled: list[int] = []

    def publish_spilled(bundle: Bundle, *args: Any, **kwargs: Any) -> PublishResult:
        frame = bundle.tables.get("ledger")
        if isinstance(frame, pd.DataFrame) and len(frame):
            bundle.tables["ledger"] = _spilled(frame, 3, tmp_path / "work")
            spilled.append(len(frame))
        return real(bundle, *args, **kwargs)

    monkeypatch.setattr(module, "publish", publish_spilled)
    case(store)
    assert spilled  # the case did publish spilled ledgers


def test_a_full_work_folder_is_said_as_such_and_nothing_is_published(
    settings: Settings, tmp_path: Path, spilling: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SnapshotStore(settings.snapshots_dir)

    def full(*_args: Any, **_kwargs: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spill.pickle, "dump", full)
    path = write_csv_bundle(tmp_path / "b", minimal_tables())
    with pytest.raises(BundleRejected) as caught:
        import_path(path, settings, store)
    (problem,) = caught.value.problems
    assert problem.table == "ledger"
    assert "work/ folder (No space left on device)" in problem.reason
    assert "free space" in problem.reason and "cannot read" not in problem.reason
    assert store.current() is None
