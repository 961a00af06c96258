"""Re-importing an export that changed a little rebuilds only the documents whose rows changed
(etl.publisher.reuse), and the generation it publishes is the one a fresh import would."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from etl.publisher import reuse
from etl.publisher.publish import PublishResult, publish
from etl.reader.bundle import read_bundle
from etl.snapshot.store import SnapshotStore
from tests.etl.builders import minimal_tables, write_csv_bundle


def _import(store: SnapshotStore, folder: Path, tables: dict[str, Any]) -> PublishResult:
    write_csv_bundle(folder, tables)
    return publish(read_bundle(folder, previous=store.current()), store)


def _documents(store: SnapshotStore) -> dict[str, str]:
    generation = store.current()
    assert generation is not None
    return {pid: generation.document_json(pid) for pid in generation.premises_ids()}


def _fresh(tmp_path: Path, tables: dict[str, Any]) -> SnapshotStore:
    store = SnapshotStore(tmp_path / "fresh")
    _import(store, tmp_path / "fresh-bundle", tables)
    return store


@pytest.mark.parametrize("whole_copy", [reuse.WHOLE_COPY, 0.0])
def test_one_changed_amount_rebuilds_one_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, whole_copy: float
) -> None:
    """Either way of copying the reused documents (picked by id, or all of them copied and
    the rebuilt ones deleted) publishes what a fresh import does."""
    monkeypatch.setattr(reuse, "WHOLE_COPY", whole_copy)
    store = SnapshotStore(tmp_path / "snapshots")
    tables = minimal_tables()
    first = _import(store, tmp_path / "a", tables)
    assert first.rebuilt == 2

    changed = copy.deepcopy(tables)
    changed["ledger"][3]["charge"] = "-13,00"  # KW5/G-3's only row
    again = _import(store, tmp_path / "b", changed)

    assert again.changed and again.rebuilt == 1
    assert _documents(store) == _documents(_fresh(tmp_path, changed))
    fresh = _fresh(tmp_path / "x", changed).current()
    assert store.current().manifest["communities"] == fresh.manifest["communities"]  # type: ignore[union-attr]


def test_what_every_document_shows_rebuilds_them_all(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    tables = minimal_tables()
    _import(store, tmp_path / "a", tables)
    renamed = copy.deepcopy(tables)
    renamed["communities"][0]["name"] = "Wspólnota Mieszkaniowa Kwiatowa 5A"
    assert _import(store, tmp_path / "b", renamed).rebuilt == 2
    assert _documents(store) == _documents(_fresh(tmp_path, renamed))


def test_a_row_moved_to_another_line_is_a_change(tmp_path: Path) -> None:
    """The document shows each row's line in the file: a row inserted above moves them."""
    store = SnapshotStore(tmp_path / "snapshots")
    tables = minimal_tables()
    _import(store, tmp_path / "a", tables)
    moved = copy.deepcopy(tables)
    moved["ledger"].insert(0, {**moved["ledger"][3], "description": "Korekta"})
    assert _import(store, tmp_path / "b", moved).rebuilt == 2
    assert _documents(store) == _documents(_fresh(tmp_path, moved))


def test_a_partial_bundle_rebuilds_what_it_lists(tmp_path: Path) -> None:
    store = SnapshotStore(tmp_path / "snapshots")
    tables = minimal_tables()
    _import(store, tmp_path / "a", tables)
    ledger_only = {"ledger": copy.deepcopy(tables["ledger"])}
    ledger_only["ledger"][0]["charge"] = "101,00"
    result = _import(store, tmp_path / "b", ledger_only)
    assert result.rebuilt == 2  # nothing to compare a partial bundle's documents with
    # and a complete re-import after it reuses nothing it cannot vouch for, yet agrees
    full = copy.deepcopy(tables)
    full["ledger"][0]["charge"] = "101,00"
    _import(store, tmp_path / "c", full)
    assert _documents(store) == _documents(_fresh(tmp_path, full))
