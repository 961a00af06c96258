"""A re-import whose bundle differs from the published one in a few ledger rows reads only the
premises those rows touch (etl.reader.ledger_delta) and publishes exactly what a whole reading
publishes; anything that does not fit reads the ledger whole."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ebok.settings import Settings
from etl.demo.generate import generate
from etl.model import Bundle, BundleRejected
from etl.publisher import publish as publish_module
from etl.publisher import reuse
from etl.publisher.publish import PublishResult, publish
from etl.reader import block_cache, block_pack, ledger_delta, ledger_map
from etl.reader.bundle import read_bundle
from etl.snapshot.generation import Generation
from etl.snapshot.store import SnapshotStore
from etl.snapshot.writer import GenerationWriter
from etl.sync import import_path
from tests.etl.builders import edit_ledger_line, flipped


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle whose ledger (~1 MB, ~16,000 rows of 200 premises) is cut into ~60 chunks."""
    path = tmp_path_factory.mktemp("demo") / "bundle"
    generate(path, communities=2, premises=200, months=40, seed=3)
    return path


def _line_edited(source: Path, target: Path, at: float, cells: dict[int, bytes]) -> bytes:
    """A copy of the bundle with cells of the ledger line after `at` of it replaced (by column
    position); the premises id of that line."""
    shutil.copytree(source, target)
    return edit_ledger_line(target / "ledger.csv", at, cells)


class Imports:
    """A data dir imported into as `ebok import` does (reading with the previous generation
    and the data dir's cache)."""

    def __init__(self, data: Path) -> None:
        self.work = data / "work"
        self.store = SnapshotStore(data / "snapshots")

    def read(self, path: Path, **kwargs: object) -> Bundle:
        return read_bundle(path, previous=self.store.current(), work_dir=self.work, **kwargs)  # type: ignore[arg-type]

    def publish(self, path: Path) -> PublishResult:
        return publish(self.read(path), self.store)

    def digest(self) -> str:
        current = self.store.current()
        assert current is not None
        return current.manifest["content_digest"]


def _fresh_digest(path: Path, data: Path) -> str:
    fresh = Imports(data)
    fresh.publish(path)
    return fresh.digest()


def _rows(bundle: Bundle, premises: set[str]) -> pd.DataFrame:
    ledger = bundle.tables["ledger"].astype(object)
    chosen = ledger[ledger["premises_id"].isin(premises)]
    return chosen.sort_values("_row").reset_index(drop=True)


def test_a_changed_payment_reads_only_its_premises(demo: Path, tmp_path: Path) -> None:
    imports = Imports(tmp_path / "data")
    imports.publish(demo)
    changed = tmp_path / "changed"
    premises = _line_edited(demo, changed, 0.5, {6: b"123,45", 5: b""}).decode()

    bundle = imports.read(changed)
    whole = read_bundle(changed)
    everyone = set(whole.tables["premises"]["premises_id"])
    assert premises not in bundle.kept
    assert len(bundle.kept) > 0.8 * len(everyone)  # the premises of one or two chunks are read
    read = set(bundle.tables["ledger"]["premises_id"])
    assert read.isdisjoint(bundle.kept) and premises in read
    assert set(bundle.tables["fees"]["premises_id"]).isdisjoint(bundle.kept)  # left out too
    # each premises read has all of its rows, as the whole reading has them
    pd.testing.assert_frame_equal(_rows(bundle, read), _rows(whole, read))

    result = publish(bundle, imports.store)
    assert result.rebuilt == 1
    assert result.counts == publish(whole, SnapshotStore(tmp_path / "other")).counts
    assert imports.digest() == _fresh_digest(changed, tmp_path / "fresh")
    # started from a copy of the previous generation's file: the communities' documents
    # have their PDFs, and the rebuilt premises shows the changed payment
    current = imports.store.current()
    assert current is not None
    listed = current.community_documents(current.community_ids())
    assert listed and all(current.document_file(d["document_id"]) for d in listed)
    document = current.document(premises)
    assert document is not None
    payment = document["ledger"]["columns"].index("payment")
    assert 12345 in [row[payment] for row in document["ledger"]["rows"]]  # 123,45 zł


def test_a_line_added_rebuilds_the_premises_below_it(demo: Path, tmp_path: Path) -> None:
    imports = Imports(tmp_path / "data")
    imports.publish(demo)
    changed = tmp_path / "changed"
    shutil.copytree(demo, changed)
    ledger = changed / "ledger.csv"
    data = ledger.read_bytes()
    start = data.index(b"\r\n", int(len(data) * 0.6)) + 2
    line = data[start : data.index(b"\r\n", start) + 2]
    ledger.write_bytes(data[:start] + line + data[start:])  # a payment booked twice

    bundle = imports.read(changed)
    assert 0 < len(bundle.kept) < 0.7 * len(read_bundle(changed).tables["premises"])
    result = publish(bundle, imports.store)
    assert result.rebuilt > 0.3 * result.counts["premises"]  # their rows' numbers moved
    assert imports.digest() == _fresh_digest(changed, tmp_path / "fresh")


def test_a_problem_in_a_changed_chunk_is_reported_as_a_whole_reading_does(
    demo: Path, tmp_path: Path
) -> None:
    imports = Imports(tmp_path / "data")
    imports.publish(demo)
    bad = tmp_path / "bad"
    _line_edited(demo, bad, 0.7, {1: b"31.02.2024"})
    with pytest.raises(BundleRejected) as whole:
        read_bundle(bad)
    with pytest.raises(BundleRejected) as delta:
        imports.read(bad)
    assert delta.value.problems == whole.value.problems
    assert not (block_cache.cache_dir(imports.work) / ledger_map.MAP).exists()


def test_another_file_changed_reads_the_whole_ledger(demo: Path, tmp_path: Path) -> None:
    imports = Imports(tmp_path / "data")
    imports.publish(demo)
    changed = tmp_path / "changed"
    shutil.copytree(demo, changed)
    premises = changed / "lokale.csv"
    premises.write_bytes(premises.read_bytes() + b"\r\n")  # the same rows, other bytes

    bundle = imports.read(changed)
    assert not bundle.kept
    assert len(bundle.tables["ledger"]) == len(read_bundle(demo).tables["ledger"])


def test_a_lost_cache_reads_the_whole_ledger(demo: Path, tmp_path: Path) -> None:
    imports = Imports(tmp_path / "data")
    imports.publish(demo)
    (block_cache.cache_dir(imports.work) / block_pack.PACK).unlink()
    changed = tmp_path / "changed"
    _line_edited(demo, changed, 0.5, {6: b"99,99", 5: b""})

    bundle = imports.read(changed)
    assert not bundle.kept
    pd.testing.assert_frame_equal(
        _rows(bundle, set(bundle.tables["ledger"]["premises_id"])),
        _rows(read_bundle(changed), set(bundle.tables["ledger"]["premises_id"])),
    )


def test_a_map_of_another_generation_is_not_used(demo: Path, tmp_path: Path) -> None:
    imports = Imports(tmp_path / "data")
    imports.publish(demo)
    first = imports.store.current()
    assert first is not None
    once = tmp_path / "once"
    _line_edited(demo, once, 0.5, {6: b"99,99", 5: b""})
    imports.publish(once)
    imports.store.set_current(first.id)  # rolled back: the map is of a ledger not published

    twice = tmp_path / "twice"
    _line_edited(demo, twice, 0.3, {6: b"11,11", 5: b""})
    bundle = imports.read(twice)
    assert not bundle.kept
    publish(bundle, imports.store)
    assert imports.digest() == _fresh_digest(twice, tmp_path / "fresh")


def test_a_generation_built_under_other_rules_is_read_again_whole(
    demo: Path, tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SnapshotStore(settings.snapshots_dir)
    import_path(demo, settings, store)
    changed = tmp_path / "changed"
    _line_edited(demo, changed, 0.5, {6: b"99,99", 5: b""})
    monkeypatch.setattr(reuse, "RULES", reuse.RULES + "-next")  # documents built otherwise

    result = import_path(changed, settings, store)
    assert result.rebuilt == result.counts["premises"]  # every document built anew
    current = store.current()
    assert current is not None
    assert current.manifest["content_digest"] == _fresh_digest(changed, tmp_path / "fresh")


@pytest.mark.parametrize("damage", ["flipped", "cut short"])
def test_a_damaged_map_reads_the_whole_ledger(demo: Path, tmp_path: Path, damage: str) -> None:
    imports = Imports(tmp_path / "data")
    imports.publish(demo)
    mapped = block_cache.cache_dir(imports.work) / ledger_map.MAP
    content = mapped.read_bytes()
    if damage == "flipped":  # the last chunk's last premises becomes another one
        content = flipped(content, len(content) - 4)
    else:
        content = content[: len(content) // 2]
    mapped.write_bytes(content)
    changed = tmp_path / "changed"
    _line_edited(demo, changed, 0.5, {6: b"99,99", 5: b""})

    bundle = imports.read(changed)
    assert not bundle.kept
    publish(bundle, imports.store)
    assert imports.digest() == _fresh_digest(changed, tmp_path / "fresh")


@pytest.mark.parametrize("limit", [0.0, ledger_delta.PACK_LIMIT])
def test_re_imports_in_a_row_each_publish_what_a_whole_reading_does(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: float
) -> None:
    """Whether the last pack is added to or written anew (limit 0), every re-import of a
    chain finds the chunks it needs."""
    monkeypatch.setattr(ledger_delta, "PACK_LIMIT", limit)
    imports = Imports(tmp_path / "data")
    imports.publish(demo)
    pack = block_cache.cache_dir(imports.work) / block_pack.PACK
    sizes = [pack.stat().st_size]
    source = demo
    for step, at in enumerate((0.2, 0.5, 0.8)):
        if step == 1:  # an import killed while adding to the pack left a torn entry
            with pack.open("ab") as torn:
                torn.write(b"\x07" * 40 + b"TORN-ENTRY")
        edited = tmp_path / f"edit{step}"
        _line_edited(source, edited, at, {6: f"{step + 1}1,11".encode(), 5: b""})
        bundle = imports.read(edited)
        assert bundle.kept
        publish(bundle, imports.store)
        assert imports.digest() == _fresh_digest(edited, tmp_path / f"fresh{step}")
        sizes.append(pack.stat().st_size)
        source = edited
    assert b"TORN-ENTRY" not in pack.read_bytes()  # cut off before more was added
    if limit:  # added to: it only grows
        assert sizes == sorted(sizes) and sizes[-1] > sizes[0]


def test_changes_far_apart_are_read_each_with_its_own_rows(demo: Path, tmp_path: Path) -> None:
    """Changed chunks at three places of the file: each is read as its own bytes (not the
    unchanged lines between them), and the next re-import finds them in the cache as such."""
    imports = Imports(tmp_path / "data")
    imports.publish(demo)
    changed = tmp_path / "changed"
    _line_edited(demo, changed, 0.15, {6: b"15,15", 5: b""})
    for at, amount in ((0.5, b"50,50"), (0.85, b"85,85")):
        moved = tmp_path / f"at{at}"
        _line_edited(changed, moved, at, {6: amount, 5: b""})
        shutil.rmtree(changed)
        moved.rename(changed)

    bundle = imports.read(changed)
    whole = read_bundle(changed)
    read = set(bundle.tables["ledger"]["premises_id"])
    assert len(read) < 0.2 * len(set(whole.tables["premises"]["premises_id"]))
    pd.testing.assert_frame_equal(_rows(bundle, read), _rows(whole, read))
    publish(bundle, imports.store)
    assert imports.digest() == _fresh_digest(changed, tmp_path / "fresh")

    again = tmp_path / "again"  # one more change: the three chunks come from the cache
    _line_edited(changed, again, 0.3, {6: b"30,30", 5: b""})
    bundle = imports.read(again)
    read = set(bundle.tables["ledger"]["premises_id"])
    pd.testing.assert_frame_equal(_rows(bundle, read), _rows(read_bundle(again), read))
    publish(bundle, imports.store)
    assert imports.digest() == _fresh_digest(again, tmp_path / "fresh-again")


def test_kept_premises_are_counted_from_an_older_manifest_too(demo: Path, tmp_path: Path) -> None:
    """A generation whose manifest lacks a community's figures (written before they were
    kept): the kept premises' rows are added up from their records instead."""
    imports = Imports(tmp_path / "data")
    imports.publish(demo)
    current = imports.store.current()
    assert current is not None
    manifest_file = current.path / "manifest.json"
    manifest = json.loads(manifest_file.read_text("utf-8"))
    for entry in manifest["communities"].values():
        del entry["ledger"]
    manifest_file.write_text(json.dumps(manifest), "utf-8")
    imports = Imports(tmp_path / "data")  # a store that reads that manifest
    changed = tmp_path / "changed"
    _line_edited(demo, changed, 0.5, {6: b"77,77", 5: b""})

    bundle = imports.read(changed)
    assert bundle.kept
    result = publish(bundle, imports.store)
    assert result.counts == publish(read_bundle(changed), SnapshotStore(tmp_path / "o")).counts
    assert imports.digest() == _fresh_digest(changed, tmp_path / "fresh")


def test_other_aliases_read_the_bundle_again_whole(
    demo: Path, tmp_path: Path, settings: Settings
) -> None:
    """The manager's aliases decide how the same files are read: a document kept unread is
    copied only from a generation read with the same ones."""
    store = SnapshotStore(settings.snapshots_dir)
    import_path(demo, settings, store)
    settings.aliases_file.write_text('[lokale]\npayer_name = ["Nabywca"]\n', "utf-8")
    changed = tmp_path / "changed"
    _line_edited(demo, changed, 0.5, {6: b"66,66", 5: b""})

    result = import_path(changed, settings, store)
    assert result.rebuilt == 1  # read whole: every other document's digest held
    current = store.current()
    assert current is not None
    assert current.manifest["content_digest"] == _fresh_digest(changed, tmp_path / "fresh")
    assert (
        current.manifest["built_under"]
        != SnapshotStore(settings.snapshots_dir)
        .generation(current.manifest["previous"])
        .manifest["built_under"]
    )


def test_a_re_import_starts_the_next_generation_while_it_reads(
    demo: Path, tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy of the current generation starts once the reading knows most of the ledger
    is unchanged, before publishing, and publishing goes on from that very copy."""
    store = SnapshotStore(settings.snapshots_dir)
    import_path(demo, settings, store)
    changed = tmp_path / "changed"
    premises = _line_edited(demo, changed, 0.5, {6: b"77,77", 5: b""}).decode()
    events: list[str] = []
    start, original = store.start, publish_module.publish

    def starting(base: Generation | None = None) -> GenerationWriter:
        events.append(f"start {base is not None}")
        return start(base=base)

    def publishing(*args: Any, **kwargs: Any) -> PublishResult:
        events.append(f"publish {kwargs.get('ahead') is not None}")
        return original(*args, **kwargs)

    monkeypatch.setattr(store, "start", starting)
    monkeypatch.setattr(publish_module, "publish", publishing)

    result = import_path(changed, settings, store)
    assert events == ["start True", "publish True"]  # no second copy
    assert result.rebuilt == 1
    assert store.current() is not None and store.current().id == result.generation
    assert not list(settings.snapshots_dir.glob(".tmp-*"))
    document = store.current().document(premises)
    payment = document["ledger"]["columns"].index("payment")
    assert 7777 in [row[payment] for row in document["ledger"]["rows"]]


def test_a_copy_started_ahead_that_is_not_wanted_is_dropped(demo: Path, tmp_path: Path) -> None:
    imports = Imports(tmp_path / "data")
    imports.publish(demo)
    current = imports.store.current()
    assert current is not None
    ahead = imports.store.start(base=current)
    tmp = ahead.tmp
    bundle = read_bundle(demo)  # read whole: nothing kept, so nothing is copied

    result = publish(bundle, imports.store, ahead=ahead)
    assert result.generation is None  # the same content as published
    assert not tmp.exists() and not list((tmp_path / "data" / "snapshots").glob(".tmp-*"))
