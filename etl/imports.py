"""Running an import: every import, whichever way it came, done the same way and recorded.

Three ways lead to the same validation and publishing (etl.sync.import_path, under the data
dir's import lock): `ebok import PATH`, `ebok sync` (the inbox, for cron) and an upload in the
manager's panel (/panel/imports). Each is recorded in the import history (etl.import_history):

- **`run_import`**: an upload (etl.uploads) imported the way `ebok sync` imports an inbox entry
  (the same lock, waited for while another import holds it; archive/ or rejected/ with a
  report), its progress written to the history as it goes.
- **`sync_inbox`** and **`record_command`**: `ebok sync` and `ebok import`, recorded the same
  way.
- **`rollback`**: a kept generation made current again, under the same lock.

The panel runs uploads through etl.import_service.ImportService, in a background thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from ebok.settings import Settings
from etl.import_history import (
    CLI,
    COMMAND,
    FAILED,
    INBOX,
    RUNNING,
    SYNC,
    UPLOAD,
    ImportHistory,
    ImportRecord,
    files_of,
    finish,
    new_id,
    now_iso,
    relative,
    runner_name,
    save_quietly,
)
from etl.inbox import DEFAULT_MIN_AGE, Outcome, process, sync
from etl.model import BundleRejected, Problem
from etl.snapshot.store import SnapshotStore
from etl.sync import AfterPublish, Busy, import_lock
from etl.uploads import safe_name

log = logging.getLogger("ebok.imports")


def sync_inbox(
    settings: Settings,
    *,
    min_age: float = DEFAULT_MIN_AGE,
    after_publish: AfterPublish | None = None,
) -> list[Outcome]:
    """`ebok sync`: etl.inbox.sync, recording each imported or rejected bundle (and calling
    `after_publish` after each publish: etl.sync.AfterPublish)."""
    history = ImportHistory(settings.imports_database)

    def record(outcome: Outcome) -> None:
        moved = outcome.moved_to
        rec = ImportRecord(new_id(), INBOX, SYNC, outcome.name, now_iso(), status=RUNNING)
        rec.files = files_of(moved) if moved is not None else []
        save_quietly(history, finish(rec, outcome, settings.data_dir))

    return sync(settings, min_age=min_age, on_outcome=record, after_publish=after_publish)


def record_command(
    settings: Settings,
    path: Path,
    outcome: Outcome,
    *,
    allow_shrink: bool,
    replace_history: bool,
) -> ImportRecord:
    """`ebok import PATH`: record what it did (the bundle stays where it was)."""
    record = ImportRecord(new_id(), COMMAND, CLI, str(path), now_iso(), status=RUNNING)
    record.allow_shrink, record.replace_history = allow_shrink, replace_history
    record.files = files_of(path) if path.exists() else []
    history = ImportHistory(settings.imports_database)
    save_quietly(history, finish(record, outcome, settings.data_dir))
    return record


def _bundle(upload_dir: Path, who: str) -> tuple[Path, str]:
    """What an upload holds: one file is the bundle itself (a ZIP, an XLSX, a CSV); several
    are a bundle folder, archived as `upload-<login>`."""
    files = sorted(p for p in upload_dir.iterdir())
    if len(files) == 1 and files[0].is_file():
        return files[0], files[0].name
    return upload_dir, f"upload-{safe_name(who, 'panel')}"


def _no_loose_legacy_files(entry: Path) -> None:
    """A legacy `#` export's files uploaded one by one would take the upload folder's name as
    their community id: refuse them, asking for the ZIP of the community's folder."""
    from etl.legacy.source import detect as is_legacy  # here: only uploads need it

    if entry.is_dir() and is_legacy(entry):
        reason = (
            "a legacy `#` export (lok.txt, wplaty.txt, ...) must be sent as one ZIP of its "
            "folder, named by the community id (e.g. KLO11.zip)"
        )
        raise BundleRejected([Problem(entry.name, "", None, "", "", reason)])


PROGRESS_SAVE_SECONDS = 0.5


class Progress:
    """What etl.sync.import_path and publish report (`stage(label)`, `(done, total)`), kept
    on the running import's record for the panel to show, and written to the history (each
    stage, and the count at most every PROGRESS_SAVE_SECONDS) so that whichever server
    process serves the panel's page shows the same figures."""

    def __init__(self, record: ImportRecord, history: ImportHistory | None = None) -> None:
        self.record = record
        self.history = history
        self._saved = 0.0

    def stage(self, label: str) -> None:
        stage = label.split(" ", 1)[0]  # "reading x.zip" -> "reading"
        changed = stage != self.record.stage
        self.record.stage = stage
        self.record.done = self.record.total = 0
        if changed:
            self._save()

    def __call__(self, done: int, total: int) -> None:
        self.record.done, self.record.total = done, total
        if time.monotonic() - self._saved >= PROGRESS_SAVE_SECONDS or done >= total:
            self._save()

    def _save(self) -> None:
        if self.history is not None:
            self._saved = time.monotonic()
            save_quietly(self.history, self.record)

    def clear(self) -> None:
        pass


@contextmanager
def _lock_when_free(settings: Settings, progress: Progress, poll: float) -> Iterator[None]:
    """The import lock, waiting for it (stage "waiting") while `ebok sync` or another import
    holds it."""
    while True:
        stack = ExitStack()
        try:
            stack.enter_context(import_lock(settings, wait=False))
        except Busy:
            progress.stage("waiting")
            time.sleep(poll)
            continue
        with stack:
            yield
        return


def run_import(
    upload_dir: Path,
    settings: Settings,
    *,
    who: str,
    allow_shrink: bool = False,
    replace_history: bool = False,
    record: ImportRecord | None = None,
    history: ImportHistory | None = None,
    poll: float = 0.5,
    after_publish: AfterPublish | None = None,
) -> ImportRecord:
    """Import an upload folder as `ebok sync` imports an inbox entry: wait for the import lock,
    validate and publish, move the bundle to archive/ or rejected/ with its report, and record
    it in the history. The upload folder is gone afterwards (unless an internal error left
    its files there)."""
    history = history or ImportHistory(settings.imports_database)
    if record is None:
        record = ImportRecord(new_id(), UPLOAD, who, upload_dir.name, now_iso())
        record.files = files_of(upload_dir)
    record.allow_shrink, record.replace_history = allow_shrink, replace_history
    record.runner = record.runner or runner_name()
    progress = Progress(record, history)
    store = SnapshotStore(settings.snapshots_dir)
    try:
        with _lock_when_free(settings, progress, poll):
            record.status = RUNNING
            save_quietly(history, record)
            entry, name = _bundle(upload_dir, who)
            outcome = process(
                entry,
                settings,
                store,
                progress,  # type: ignore[arg-type]
                name=name,
                allow_shrink=allow_shrink,
                replace_history=replace_history,
                check=_no_loose_legacy_files,
                after_publish=after_publish,
            )
        finish(record, outcome, settings.data_dir)
        if upload_dir.is_dir() and not any(upload_dir.iterdir()):
            upload_dir.rmdir()
    except Exception as exc:  # moving or reporting failed: the files stay in uploads/
        log.exception("import %s failed", record.id)
        record.status, record.error, record.finished_at = FAILED, repr(exc), now_iso()
        record.stored_as = relative(upload_dir, settings.data_dir)
    save_quietly(history, record)
    return record


# -- rollback ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Rollback:
    done: bool
    reason: str = ""  # when not done: "unknown" (no such generation), "current", "busy"
    was: str | None = None  # the generation current before


def rollback(settings: Settings, generation_id: str) -> Rollback:
    """Make a kept generation current again (`ebok rollback --to`), under the import lock;
    refused at once, not waited for, while an import holds it."""
    store = SnapshotStore(settings.snapshots_dir)
    try:
        with import_lock(settings, wait=False):
            current = store.current()
            was = current.id if current is not None else None
            if generation_id not in store.generation_ids():
                return Rollback(False, "unknown", was)
            if generation_id == was:
                return Rollback(False, "current", was)
            store.set_current(generation_id)
            return Rollback(True, was=was)
    except Busy:
        return Rollback(False, "busy")
