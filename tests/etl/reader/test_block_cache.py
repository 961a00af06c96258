"""A re-import parses only the ledger chunks whose bytes changed (etl.reader.chunks,
etl.reader.block_cache), and reads, reports and publishes exactly what a fresh import does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from etl.demo.generate import generate
from etl.model import Bundle, BundleRejected
from etl.publisher.publish import publish
from etl.reader import block_cache, block_pack, ledger_map
from etl.reader.bundle import read_bundle
from etl.reader.chunks import Chunker
from etl.snapshot.store import SnapshotStore
from tests.etl.builders import edit_ledger_line, flipped


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle whose ledger (~1 MB, ~16,000 rows) is cut into ~60 chunks."""
    path = tmp_path_factory.mktemp("demo") / "bundle"
    generate(path, communities=2, premises=200, months=40, seed=3)
    return path


def _edited(demo: Path, target: Path, old: bytes, new: bytes, at: float = 0.5) -> Path:
    """A copy of the bundle with the first `old` after `at` of its ledger replaced."""
    shutil.copytree(demo, target)
    ledger = target / "ledger.csv"
    data = ledger.read_bytes()
    where = data.index(old, int(len(data) * at))
    ledger.write_bytes(data[:where] + new + data[where + len(old) :])
    return target


class _Parsed:
    """Counts the rows `block_cache` parses and validates (the others came from the cache)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rows = 0
        real = block_cache.ledger_block

        def counting(block, *args, **kwargs):  # type: ignore[no-untyped-def]
            self.rows += len(block.rows)
            return real(block, *args, **kwargs)

        monkeypatch.setattr(block_cache, "ledger_block", counting)


def _ledger(bundle: Bundle) -> pd.DataFrame:
    return bundle.tables["ledger"].astype(object)  # categories in any order


def _digest(path: Path, data: Path, previous: SnapshotStore | None = None) -> str:
    store = previous or SnapshotStore(data / "snapshots")
    result = publish(read_bundle(path, previous=store.current(), work_dir=data / "work"), store)
    generation = store.current()
    assert generation is not None and (result.changed or previous is not None)
    return generation.manifest["content_digest"]


def test_a_value_one_character_longer_reparses_only_its_chunk(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    store = SnapshotStore(data / "snapshots")
    _digest(demo, data, store)
    total = len(read_bundle(demo).tables["ledger"])
    changed = _edited(demo, tmp_path / "changed", b";Wp\xb3ata;", b";Wp\xb3ata bankowa;")

    parsed = _Parsed(monkeypatch)
    # read whole (not as its changes, etl.reader.ledger_delta): every row, cached or parsed
    again = read_bundle(
        changed, previous=store.current(), work_dir=data / "work", incremental=False
    )
    assert 0 < parsed.rows < total * 0.05  # one chunk of ~60 (or two, near a cut)
    fresh = read_bundle(changed)
    pd.testing.assert_frame_equal(_ledger(again), _ledger(fresh))

    # and what it publishes is what a fresh import of the changed bundle publishes
    reimported = _digest(changed, data, store)
    assert reimported == _digest(changed, tmp_path / "fresh")


def test_lines_added_above_move_no_cut_after_them() -> None:
    lines = [f"P{i % 97}/{i % 13};2024-{1 + i % 12:02d}-01;Opłata {i};;{i % 500},{i % 100:02d}\n"
             for i in range(40_000)]  # fmt: skip
    data = "".join(lines).encode()
    edited = "".join([*lines[:20_000], "P1/1;2024-01-01;Korekta;;1,00\n", *lines[20_000:]])

    def cut(text: bytes) -> list[bytes]:
        chunker = Chunker()
        for at in range(0, len(text), 1 << 20):
            chunker.feed(text[at : at + (1 << 20)])
        return [c.digest for c in chunker.finish()]

    before, after = cut(data), cut(edited.encode())
    assert len(before) > 20
    assert len(set(after) - set(before)) <= 2  # the chunk with the new line (and its cut)


def test_problems_are_the_same_with_a_cache(demo: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    _digest(demo, data)
    bad = tmp_path / "bad"
    shutil.copytree(demo, bad)
    edit_ledger_line(bad / "ledger.csv", 0.3, {1: b"31.02.2024"})
    edit_ledger_line(bad / "ledger.csv", 0.7, {1: b"01.13.2024", 5: b"12,345", 6: b""})
    edit_ledger_line(bad / "ledger.csv", 0.9, {0: b"  "})

    with pytest.raises(BundleRejected) as fresh:
        read_bundle(bad)
    assert len(fresh.value.problems) >= 4
    for _ in range(2):  # from the valid import's cache, then from the bad one's
        with pytest.raises(BundleRejected) as cached:
            read_bundle(bad, work_dir=data / "work")
        assert cached.value.problems == fresh.value.problems


@pytest.mark.parametrize("damage", ["flipped", "cut short", "not a pack", "empty"])
def test_a_damaged_cache_is_ignored(demo: Path, tmp_path: Path, damage: str) -> None:
    data = tmp_path / "data"
    store = SnapshotStore(data / "snapshots")
    _digest(demo, data, store)
    pack = block_cache.cache_dir(data / "work") / block_pack.PACK
    content = pack.read_bytes()
    if damage == "flipped":  # a byte in the middle of an entry
        middle = len(content) // 2
        content = flipped(content, middle, 0xFF)
    elif damage == "cut short":
        content = content[: len(content) * 2 // 3]
    elif damage == "not a pack":
        content = b"\x00garbage" * 1000
    else:
        content = b""
    pack.write_bytes(content)

    changed = _edited(demo, tmp_path / "changed", b";Wp\xb3ata;", b";Wp\xb3ata bankowa;")
    reimported = read_bundle(
        changed, previous=store.current(), work_dir=data / "work", incremental=False
    )
    pd.testing.assert_frame_equal(_ledger(reimported), _ledger(read_bundle(changed)))
    assert pack.read_bytes()[: len(block_pack.MAGIC)] == block_pack.MAGIC  # written anew


def test_blank_lines_keep_their_row_numbers_from_the_cache(demo: Path, tmp_path: Path) -> None:
    """Rows after blank lines are not their chunk's lines in order: their numbers are kept
    (and the file's last lines, blank, end no chunk with rows)."""
    spaced = tmp_path / "spaced"
    shutil.copytree(demo, spaced)
    ledger = spaced / "ledger.csv"
    data = ledger.read_bytes()
    for at in (0.2, 0.5, 0.8):
        where = data.index(b"\r\n", int(len(data) * at)) + 2
        data = data[:where] + b"\r\n;;;;;;\r\n" + data[where:]
    ledger.write_bytes(data + b"\r\n\r\n")
    data_dir = tmp_path / "data"
    first = read_bundle(spaced, work_dir=data_dir / "work")
    changed = _edited(spaced, tmp_path / "changed", b";Wp\xb3ata;", b";Wp\xb3ata bankowa;")
    again = read_bundle(changed, work_dir=data_dir / "work")
    fresh = read_bundle(changed)
    pd.testing.assert_frame_equal(_ledger(again), _ledger(fresh))
    assert len(_ledger(first)) == len(_ledger(fresh))


def test_a_cache_that_cannot_be_written_fails_no_import(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    read_bundle(demo, work_dir=data / "work")
    pack = block_cache.cache_dir(data / "work") / block_pack.PACK
    kept = pack.read_bytes()

    class FullDisk:
        """A file that takes a few bytes, then says the disk is full."""

        def __init__(self, path: Path, mode: str) -> None:
            self.file = open(path, mode)  # noqa: SIM115
            self.closed = False

        def write(self, data: object) -> int:
            if self.file.tell() > 1000:
                raise OSError(28, "No space left on device")
            return self.file.write(data)  # type: ignore[arg-type]

        def close(self) -> None:
            self.file.close()
            self.closed = True

    def opened(path: Path, mode: str = "r", *args: object, **kwargs: object) -> object:
        return FullDisk(path, mode) if "w" in mode else open(path, mode, *args, **kwargs)  # type: ignore[call-overload]  # noqa: SIM115

    monkeypatch.setattr(block_pack, "open", opened, raising=False)
    changed = _edited(demo, tmp_path / "changed", b";Wp\xb3ata;", b";Wp\xb3ata bankowa;")
    again = read_bundle(changed, work_dir=data / "work")
    pd.testing.assert_frame_equal(_ledger(again), _ledger(read_bundle(changed)))
    assert pack.read_bytes() == kept  # the last pack that was written whole stays
    assert not [p for p in pack.parent.iterdir() if p.name.startswith(".")]  # half-written
    assert not (pack.parent / ledger_map.MAP).exists()  # no map of chunks it does not hold
