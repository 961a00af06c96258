"""`ebok sync`: the inbox is imported oldest first, each bundle ends in archive/ or rejected/
with a report beside it, and overlapping runs never collide."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ebok.cli import main
from ebok.settings import Settings
from etl.snapshot.store import SnapshotStore
from etl.sync import import_lock
from tests.etl.builders import minimal_tables, write_csv, write_csv_bundle


def settle(path: Path, age: float = 3600) -> Path:
    """Make an inbox entry look like an upload finished `age` seconds ago."""
    stamp = time.time() - age
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (stamp, stamp))
    return path


def sync(settings: Settings, *args: str) -> int:
    return main(["--data-dir", str(settings.data_dir), "sync", *args])


def broken_tables() -> dict:
    tables = minimal_tables()
    tables["ledger"][1]["charge"] = "12,3x"  # row 3 as the spreadsheet numbers it
    return tables


def test_empty_inbox_is_fine(settings: Settings, capsys: pytest.CaptureFixture) -> None:
    assert sync(settings) == 0
    assert "empty" in capsys.readouterr().out
    assert settings.inbox_dir.is_dir()


def test_bundles_are_archived_or_rejected_with_a_report(
    settings: Settings, capsys: pytest.CaptureFixture
) -> None:
    settings.inbox_dir.mkdir()
    settle(write_csv_bundle(settings.inbox_dir / "kwiatowa", minimal_tables()), 200)
    settle(write_csv_bundle(settings.inbox_dir / "broken", broken_tables()), 100)

    assert sync(settings) == 1
    out = capsys.readouterr().out
    assert "kwiatowa: published generation" in out and "broken: rejected" in out
    assert list(settings.inbox_dir.iterdir()) == []

    (archived,) = [p for p in settings.archive_dir.iterdir() if p.is_dir()]
    assert archived.name.endswith("-kwiatowa") and (archived / "ledger.csv").exists()
    report = (settings.archive_dir / f"{archived.name}.report.txt").read_text("utf-8")
    generation = SnapshotStore(settings.snapshots_dir).current()
    assert f"published as generation {generation.id}" in report
    assert "WM-KW5: as of 2026-11-20, 2 premises" in report

    (rejected,) = [p for p in settings.rejected_dir.iterdir() if p.is_dir()]
    assert rejected.name.endswith("-broken")
    report = (settings.rejected_dir / f"{rejected.name}.report.txt").read_text("utf-8")
    assert "REJECTED" in report
    assert "ledger.csv, ledger, row 3, charge, '12,3x'" in report
    assert generation.manifest["counts"]["premises"] == 2


def test_inbox_is_imported_oldest_first(settings: Settings) -> None:
    settings.inbox_dir.mkdir()
    # The lone ledger refers to premises only the older full bundle creates: in the wrong order
    # it would be rejected.
    ledger = [
        {"premises_id": "KW5/1", "date": "2026-02-01", "description": "Wpłata", "payment": "5,00"}
    ]
    settle(write_csv(settings.inbox_dir / "ledger.csv", ledger), 100)
    settle(write_csv_bundle(settings.inbox_dir / "full", minimal_tables()), 200)

    assert sync(settings) == 0
    doc = SnapshotStore(settings.snapshots_dir).current().document("KW5/1")
    assert [(r[2], r[5]) for r in doc["ledger"]["rows"]] == [("Wpłata", 500)]
    assert doc["fees"] and doc["premises"]["payer_name"] == "Jan Kowalski"
    assert len(list(settings.archive_dir.glob("*.report.txt"))) == 2


def test_a_run_while_another_holds_the_lock_touches_nothing(
    settings: Settings, capsys: pytest.CaptureFixture
) -> None:
    settings.inbox_dir.mkdir()
    bundle = settle(write_csv_bundle(settings.inbox_dir / "kwiatowa", minimal_tables()))
    with import_lock(settings, wait=False):
        assert sync(settings) == 0
    assert "another import is running" in capsys.readouterr().out
    assert bundle.exists()
    assert not settings.archive_dir.exists() and not settings.snapshots_dir.exists()
    assert sync(settings) == 0  # the lock is free again: the next cron run does the work
    assert not bundle.exists()


def test_uploads_still_in_progress_are_left_for_the_next_run(
    settings: Settings, capsys: pytest.CaptureFixture
) -> None:
    settings.inbox_dir.mkdir()
    fresh = write_csv_bundle(settings.inbox_dir / "uploading", minimal_tables())
    settle(fresh)
    os.utime(fresh / "ledger.csv")  # one file of the folder is still being written
    partial = settle(write_csv(settings.inbox_dir / "ledger.csv.part", []))
    assert sync(settings, "--min-age", "30") == 0
    assert "uploading: modified 0 s ago, left for the next run" in capsys.readouterr().out
    assert fresh.exists() and partial.exists()
    assert SnapshotStore(settings.snapshots_dir).current() is None
    assert sync(settings, "--min-age", "0") == 0
    assert not fresh.exists() and partial.exists()


def test_a_bundle_that_crashes_the_reader_is_parked_and_the_rest_still_imported(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    import etl.sync

    real = etl.sync.read_export

    def flaky(path: Path, **kwargs):
        if path.name == "odd":
            raise RuntimeError("reader bug")
        return real(path, **kwargs)

    monkeypatch.setattr(etl.sync, "read_export", flaky)
    settings.inbox_dir.mkdir()
    settle(write_csv_bundle(settings.inbox_dir / "odd", minimal_tables()), 200)
    settle(write_csv_bundle(settings.inbox_dir / "good", minimal_tables()), 100)
    assert sync(settings) == 1
    (report,) = settings.rejected_dir.glob("*-odd.report.txt")
    assert "internal error" in report.read_text("utf-8")
    assert "RuntimeError: reader bug" in report.read_text("utf-8")
    assert SnapshotStore(settings.snapshots_dir).current().document("KW5/1") is not None
    assert list(settings.inbox_dir.iterdir()) == []
