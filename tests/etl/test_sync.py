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
    # it would be rejected. It restates KW5/1's ledger from the same first date, with a new
    # payment.
    ledger = [dict(r) for r in minimal_tables()["ledger"] if r["premises_id"] == "KW5/1"]
    ledger[-1].update(date="2026-02-01", payment="5,00")
    settle(write_csv(settings.inbox_dir / "ledger.csv", ledger), 100)
    settle(write_csv_bundle(settings.inbox_dir / "full", minimal_tables()), 200)

    assert sync(settings) == 0
    doc = SnapshotStore(settings.snapshots_dir).current().document("KW5/1")
    assert [(r[2], r[5]) for r in doc["ledger"]["rows"]][-1] == ("Wpłata", 500)
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
    import etl.exports  # etl.sync imports read_export from it when it reads a bundle

    real = etl.exports.read_export

    def flaky(path: Path, **kwargs):
        if path.name == "odd":
            raise RuntimeError("reader bug")
        return real(path, **kwargs)

    monkeypatch.setattr(etl.exports, "read_export", flaky)
    settings.inbox_dir.mkdir()
    settle(write_csv_bundle(settings.inbox_dir / "odd", minimal_tables()), 200)
    settle(write_csv_bundle(settings.inbox_dir / "good", minimal_tables()), 100)
    assert sync(settings) == 1
    (report,) = settings.rejected_dir.glob("*-odd.report.txt")
    assert "internal error" in report.read_text("utf-8")
    assert "RuntimeError: reader bug" in report.read_text("utf-8")
    assert SnapshotStore(settings.snapshots_dir).current().document("KW5/1") is not None
    assert list(settings.inbox_dir.iterdir()) == []


def test_an_export_that_would_remove_published_data_is_rejected_with_a_report(
    settings: Settings, capsys: pytest.CaptureFixture
) -> None:
    settings.inbox_dir.mkdir()
    settle(write_csv_bundle(settings.inbox_dir / "full", minimal_tables()), 200)
    tables = minimal_tables()
    tables["fees"] = []  # the fees file came without its rows
    write_csv_bundle(settings.inbox_dir / "cut", tables)
    write_csv(settings.inbox_dir / "cut" / "fees.csv", [], header=["premises_id", "component"])
    settle(settings.inbox_dir / "cut", 100)

    assert sync(settings) == 1
    assert "cut: rejected (1 problem(s))" in capsys.readouterr().out
    (rejected,) = [p for p in settings.rejected_dir.iterdir() if p.is_dir()]
    assert rejected.name.endswith("-cut") and (rejected / "fees.csv").exists()
    report = (settings.rejected_dir / f"{rejected.name}.report.txt").read_text("utf-8")
    assert "REJECTED" in report
    assert (
        "fees.csv, fees, -, fee lines, '2 -> 0': community WM-KW5: this export would remove 2 "
        "of the 2 published fee lines (100%; at most 20%): published 2, this export 0"
    ) in report
    assert "ebok import --allow-shrink" in report
    doc = SnapshotStore(settings.snapshots_dir).current().document("KW5/1")
    assert doc["totals"]["monthly_fees"] == 29105


def test_an_opening_balance_against_the_published_one_is_rejected_with_a_report(
    settings: Settings,
) -> None:
    settings.inbox_dir.mkdir()
    settle(write_csv_bundle(settings.inbox_dir / "y2026", minimal_tables()), 200)
    tables = minimal_tables()
    tables["ledger"] = [
        {"premises_id": "KW5/1", "date": "01.01.2027", "description": "Saldo początkowe",
         "payment": "10,00"},
    ]  # fmt: skip
    settle(write_csv_bundle(settings.inbox_dir / "y2027", tables), 100)
    assert sync(settings) == 1
    (report,) = settings.rejected_dir.glob("*-y2027.report.txt")
    text = report.read_text("utf-8")
    assert (
        "ledger.csv, ledger, row 2, payment, '10,00': opening balance 10,00 differs from the "
        "published balance -334,56 on 2026-12-31 for premises KW5/1"
    ) in text
    assert "ebok import --replace-history" in text
