"""The import service the panel is given: uploads imported in the background, one at a time.

`ImportService` runs uploads one at a time in a background thread, so that a long import never
holds a web request open, and shows their progress; re-runs an upload refused by the shrink
guard or the history check with the option the refusal names; rolls back to a chosen
generation under the lock. Each import is etl.imports's `run_import` of an etl.uploads
`Upload`, recorded in etl.import_history. The portal is given one (ebok.serve) and knows it
only through its own Protocol (portal.panel.importer): the portal may not import this module.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ebok.database import DatabaseUnavailable
from ebok.settings import Settings
from etl.import_history import (
    ID_PATTERN,
    REJECTED,
    UPLOAD,
    ImportHistory,
    ImportRecord,
    files_of,
    now_iso,
    runner_name,
    save_quietly,
)
from etl.imports import Rollback, rollback, run_import
from etl.sync import AfterPublish
from etl.uploads import Upload, new_upload, safe_name

log = logging.getLogger("ebok.imports")

# -- the service the panel is given -----------------------------------------------------------
Finished = Callable[[ImportRecord], None]


@dataclass
class _Job:
    upload_dir: Path
    record: ImportRecord
    on_finish: Finished | None


class ImportService:
    """Uploads imported one at a time by a background thread (started when there is work, gone
    when there is none), their progress, the history, rollback. What the portal's
    portal.panel.importer.Importer Protocol describes."""

    def __init__(
        self,
        settings: Settings,
        *,
        poll: float = 0.5,
        after_publish: AfterPublish | None = None,
    ) -> None:
        self.settings = settings
        self.poll = poll
        # Called after each upload that publishes (ebok.serve gives the portal's notices).
        self.after_publish = after_publish
        self.history_db = ImportHistory(settings.imports_database)
        # Uploads left queued or running by a server process that is gone never finished.
        try:
            self.history_db.interrupt_unfinished()
        except DatabaseUnavailable as exc:  # the portal starts anyway and answers 503 meanwhile
            log.warning("import history unavailable at start: %s", exc)
        self._cond = threading.Condition()
        self._queue: deque[_Job] = deque()
        self._live: dict[str, ImportRecord] = {}
        self._worker: threading.Thread | None = None

    def receive(self, who: str) -> Upload:
        return new_upload(self.settings)

    def start(
        self,
        upload: Upload,
        *,
        who: str,
        allow_shrink: bool = False,
        replace_history: bool = False,
        on_finish: Finished | None = None,
        retry_of: str | None = None,
        source: str | None = None,
    ) -> str:
        """Queue an upload for import; its id (the upload's) names it in `job` and the history."""
        names = upload.names or [p.name for p in sorted(upload.directory.iterdir())]
        shown = ", ".join(names)
        if len(shown) > 300:
            shown = shown[:297].rsplit(", ", 1)[0] + ", ..."
        record = ImportRecord(upload.id, UPLOAD, who, source or shown, now_iso())
        record.runner = runner_name()
        record.allow_shrink, record.replace_history = allow_shrink, replace_history
        record.retry_of, record.files = retry_of, files_of(upload.directory)
        save_quietly(self.history_db, record)
        with self._cond:
            self._live[record.id] = record
            self._queue.append(_Job(upload.directory, record, on_finish))
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="ebok-import", daemon=True)
                self._worker.start()
        return record.id

    def retry(self, record_id: str, *, who: str, on_finish: Finished | None = None) -> str | None:
        """Import a refused upload or inbox export again from rejected/, with the option its
        refusal names (allow_shrink for the shrink guard, replace_history for the history
        check). None when it cannot be: not such a refusal, or its files are gone."""
        record = self.history_db.get(record_id)
        if (
            record is None
            or record.status != REJECTED
            or record.refusal not in ("shrink", "history")
        ):
            return None
        rejected = self.settings.rejected_dir.resolve()
        stored = (self.settings.data_dir / record.stored_as).resolve()
        if not record.stored_as or stored.parent != rejected or not stored.exists():
            return None
        upload = new_upload(self.settings)
        # The bundle's own name, without the rejected/ time stamp (a legacy ZIP's name is its
        # community id).
        original = record.source if stored.is_file() and "," not in record.source else None
        name = safe_name(original or stored.name)
        from etl.legacy.source import detect as is_legacy  # here: only uploads need it

        if stored.is_dir() and is_legacy(stored):  # its folder's name is its community id
            shutil.copytree(stored, upload.directory / safe_name(record.source))
        elif stored.is_dir():
            upload.directory.rmdir()
            shutil.copytree(stored, upload.directory)
        else:
            shutil.copy2(stored, upload.directory / name)
            upload.names.append(name)
        return self.start(
            upload,
            who=who,
            allow_shrink=record.allow_shrink or record.refusal == "shrink",
            replace_history=record.replace_history or record.refusal == "history",
            on_finish=on_finish,
            retry_of=record.id,
            source=record.source,
        )

    def _work(self) -> None:
        while True:
            with self._cond:
                if not self._queue:
                    self._worker = None
                    return
                job = self._queue[0]
            try:
                run_import(
                    job.upload_dir,
                    self.settings,
                    who=job.record.who,
                    allow_shrink=job.record.allow_shrink,
                    replace_history=job.record.replace_history,
                    record=job.record,
                    history=self.history_db,
                    poll=self.poll,
                    after_publish=self.after_publish,
                )
            except BaseException:  # run_import records its own failures; this is a last resort
                log.exception("import %s", job.record.id)
            with self._cond:
                self._queue.popleft()
                self._live.pop(job.record.id, None)
                self._cond.notify_all()
            if job.on_finish is not None:
                try:
                    job.on_finish(job.record)
                except Exception:
                    log.exception("after import %s", job.record.id)

    def job(self, record_id: str) -> ImportRecord | None:
        """A queued or running import (with its progress) or a recorded one."""
        if not ID_PATTERN.match(record_id):
            return None
        with self._cond:
            live = self._live.get(record_id)
        return live if live is not None else self.history_db.get(record_id)

    def active(self) -> list[ImportRecord]:
        """Queued and running uploads: this process's as they are now, other processes' as
        they last wrote them to the history."""
        with self._cond:
            mine = {job.record.id: job.record for job in self._queue}
        others = [r for r in self.history_db.unfinished() if r.id not in mine and r.via == UPLOAD]
        return sorted([*mine.values(), *others], key=lambda r: (r.started_at, r.id))

    def history(self, *, offset: int = 0, limit: int = 50) -> tuple[list[ImportRecord], int]:
        records, total = self.history_db.page(offset=offset, limit=limit)
        with self._cond:
            return [self._live.get(r.id, r) for r in records], total

    def rollback(self, generation_id: str) -> Rollback:
        return rollback(self.settings, generation_id)

    def results(self) -> dict[str, int]:
        return self.history_db.results()

    def wait(self, record_id: str, timeout: float = 30) -> ImportRecord | None:
        """Until that import has finished (for tests and scripts); the record."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while record_id in self._live:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
        return self.job(record_id)
