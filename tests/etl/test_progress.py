"""The progress line of a long import: drawn on a terminal (rows read, premises published),
nothing at all where stderr is not one (cron, logs)."""

from __future__ import annotations

import io
from pathlib import Path

from ebok.settings import Settings
from etl.progress import ProgressLine
from etl.snapshot.store import SnapshotStore
from etl.sync import import_path
from tests.etl.builders import minimal_tables, write_csv_bundle


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_sees_rows_read_and_premises_published(
    settings: Settings, tmp_path: Path
) -> None:
    screen = Terminal()
    bundle = write_csv_bundle(tmp_path / "kwiatowa", minimal_tables())
    store = SnapshotStore(settings.snapshots_dir)
    import_path(bundle, settings, store, ProgressLine(screen))
    shown = screen.getvalue()
    assert "reading kwiatowa: ledger.csv, 4 rows read" in shown
    assert "publishing kwiatowa: premises [" in shown and "2/2" in shown


def test_cron_sees_nothing(settings: Settings, tmp_path: Path) -> None:
    log = io.StringIO()  # not a terminal
    bundle = write_csv_bundle(tmp_path / "kwiatowa", minimal_tables())
    import_path(bundle, settings, SnapshotStore(settings.snapshots_dir), ProgressLine(log))
    assert log.getvalue() == ""
