"""The first pass over a big file made by a helper process (etl.reader.prescan) is used only
for the very file it scanned, is the pass the reader would have made, and is never needed:
without it (failed, killed, file changed) the reader scans the file itself."""

from __future__ import annotations

import io
import pickle
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest

from ebok.settings import Settings
from etl.demo.generate import generate
from etl.reader import first_pass, prescan
from etl.reader.archive import members
from etl.reader.bundle import STREAMED
from etl.reader.headers import Aliases
from etl.snapshot.store import SnapshotStore
from etl.sync import import_path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "bundle"
    generate(path, communities=2, premises=120, months=30, seed=5)
    return path


def _scanned(path: Path) -> first_pass.Scan:
    with path.open("rb") as fh:
        return first_pass.scan(fh)


def test_the_helpers_scan_is_the_readers(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = demo / "ledger.csv"
    passes: list[object] = []
    encoding_of = first_pass.encoding_of
    monkeypatch.setattr(first_pass, "encoding_of", lambda fh: passes.append(fh) or encoding_of(fh))
    with prescan.started(demo, min_bytes=0) as scans:
        found = scans.get(ledger)
        assert scans.get(ledger) is found and len(passes) == 1  # asked again: read once
    assert found == _scanned(ledger)
    assert len(found.chunks) > 10  # cut into chunks, each with its lines and digest


def test_only_big_files_of_the_tables_read_in_blocks_are_scanned(demo: Path) -> None:
    assert prescan.TABLES == STREAMED
    size = (demo / "ledger.csv").stat().st_size
    assert prescan.candidates(demo, min_bytes=0) == [demo / "ledger.csv", demo / "fees.csv"]
    assert prescan.candidates(demo, min_bytes=size) == [demo / "ledger.csv"]
    assert prescan.candidates(demo, min_bytes=size + 1) == []
    with prescan.started(demo, min_bytes=size + 1) as scans:
        assert scans.get(demo / "ledger.csv") is None  # no helper: the reader scans


def test_a_file_changed_since_the_helper_scanned_it_is_scanned_again(
    demo: Path, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(demo, bundle)
    ledger = bundle / "ledger.csv"
    with prescan.started(bundle, min_bytes=0) as scans:
        assert scans.get(ledger) is not None  # the helper's scan has come
        data = ledger.read_bytes()
        time.sleep(0.01)
        ledger.write_bytes(data.replace(b";431,89", b";431,98", 1))
        assert scans.get(ledger) is None


def test_a_file_the_first_pass_refuses_is_refused_the_same(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.csv"
    ledger.write_bytes(b'id_lokalu;data;opis\nA/1;01.01.2026;"two\nlines"\n')
    with pytest.raises(first_pass.NotStreamable) as inline, ledger.open("rb") as fh:
        first_pass.scan(fh)
    with prescan.started(tmp_path, min_bytes=0) as scans:
        with pytest.raises(first_pass.NotStreamable) as helped:
            scans.get(ledger)
    assert str(helped.value) == str(inline.value) == "a quoted value spans lines"


def test_a_helper_that_fails_leaves_the_scan_to_the_reader(
    demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prescan, "_CHILD", "import sys; sys.stdout.write('junk'); sys.exit(3)")
    with prescan.started(demo, min_bytes=0) as scans:
        assert scans.get(demo / "ledger.csv") is None


def test_closing_stops_a_helper_still_at_work(demo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prescan, "_CHILD", "import time; time.sleep(60)")
    started = time.monotonic()
    scans = prescan.started(demo, min_bytes=0)
    proc = scans._proc
    assert proc is not None and proc.poll() is None
    scans.close()
    assert proc.poll() is not None and time.monotonic() - started < 10
    assert scans.get(demo / "ledger.csv") is None


def test_the_helper_writes_each_files_scan_or_refusal(tmp_path: Path) -> None:
    good, bad = tmp_path / "ledger.csv", tmp_path / "fees.csv"
    good.write_bytes(b"id_lokalu;data\nA/1;01.01.2026\n")
    bad.write_bytes(b"\xff\xfei\x00d\x00")  # UTF-16: read whole, not in blocks
    out = io.BytesIO()
    prescan.main([str(good), str(bad), str(tmp_path / "gone.csv")], out)
    out.seek(0)
    records = [pickle.load(out), pickle.load(out)]
    assert first_pass.unpacked(records[0]) == replace(_scanned(good), encoding="")  # Scans.get
    assert records[1]["refused"] == "UTF-16"
    assert out.read() == b""  # a file it cannot read is left out


def test_an_import_with_the_helper_publishes_what_one_without_does(
    demo: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SnapshotStore(settings.snapshots_dir)
    monkeypatch.setattr(prescan, "MIN_BYTES", 0)
    used: list[first_pass.Scan | None] = []
    get = prescan.Scans.get
    monkeypatch.setattr(prescan.Scans, "get", lambda self, p: used.append(get(self, p)) or used[-1])
    helped = import_path(demo, settings, store).generation
    assert any(isinstance(found, first_pass.Scan) for found in used)
    monkeypatch.setattr(prescan, "MIN_BYTES", 10**12)
    shutil.rmtree(settings.data_dir / "cache")  # the ledger read again, and scanned here
    alone = import_path(demo, settings, store, replace_history=True)
    assert alone.generation is None  # the same content: nothing to publish
    assert store.current() is not None and store.current().id == helped


def test_the_files_it_scans_are_read_last_in_its_order_and_a_refused_one_stops_it(
    demo: Path, tmp_path: Path
) -> None:
    aliases = Aliases.load(None)
    with prescan.started(demo, min_bytes=0) as scans:
        files, _ = members(demo)
        scans.put_last(files, aliases)
        # biggest first, as the helper scans them: the reader never waits behind a scan
        assert [f.name for f in files[-2:]] == ["ledger.csv", "fees.csv"]
        assert [f.path for f in files[-2:]] == scans.files
        assert scans.get(demo / "ledger.csv") is not None  # still at work for the reader
    bundle = tmp_path / "bundle"
    shutil.copytree(demo, bundle)
    (bundle / "ledger.csv").write_bytes(b"Lorem ipsum dolor sit amet\n" * 1000)
    with prescan.started(bundle, min_bytes=0) as scans:
        files, _ = members(bundle)
        scans.put_last(files, aliases)
        assert scans.get(bundle / "ledger.csv") is None  # stopped: the head refuses the file
        assert scans._proc is None


@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-8", "cp1250", "iso-8859-2"])
def test_the_encoding_is_the_one_the_readers_scan_finds(
    demo: Path, tmp_path: Path, codec: str
) -> None:
    """The reader finds the encoding while the helper cuts the file: the two make one scan."""
    ledger = tmp_path / "ledger.csv"
    text = (demo / "ledger.csv").read_bytes().decode("cp1250")
    ledger.write_bytes(text.replace("Wpłata", "Wpłata źdźbło śląskie").encode(codec))
    with prescan.started(tmp_path, min_bytes=0) as scans:
        found = scans.get(ledger)
    assert found == _scanned(ledger)
    assert found.encoding == codec
