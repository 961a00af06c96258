"""The import service: every import, whichever way it came, done the same way and remembered.

Three ways lead to the same validation and publishing (etl.sync.import_path, under the data
dir's import lock): `ebok import PATH`, `ebok sync` (the inbox, for cron) and an upload in the
manager's panel (/panel/imports). What they share beyond that lives here:

- **The import history** (`ImportHistory`, DATA/imports.sqlite3): every import with its time,
  source, who (a staff login, `sync` or `cli`), result, figures and problems. It is a SQLite
  file of etl's own in the data dir: not the accounts database (ebok.sqlite3 is the portal's,
  and etl never imports the portal), and not JSON lines, because the panel pages through it
  newest first and opens one import by id, and cron's `ebok sync` and the portal write it from
  two processes (SQLite serialises them; a crash mid-write leaves no torn line behind). With
  EBOK_DATABASE_URL it is a table in that PostgreSQL database instead (ebok.database), so that
  every host's panel shows every import.
- **Uploads** (`Upload`, DATA/uploads/<id>/): the files the panel received, each under a name
  made safe by `safe_name`, so that no name from a request becomes a path outside that folder.
- **`run_import`**: an upload imported the way `ebok sync` imports an inbox entry (the same
  lock, archive/ or rejected/ with a report), recorded in the history.
- **`ImportService`**: runs uploads one at a time in a background thread, so that a long import
  never holds a web request open, and shows their progress; re-runs an upload refused by the
  shrink guard or the history check with the option the refusal names; rolls back to a chosen
  generation under the lock. The portal is given one (ebok.serve) and knows it only through its
  own Protocol (portal.panel.importer): the portal may not import this module.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import secrets
import shutil
import socket
import threading
import time
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ebok.database import Database, DatabaseUnavailable, describe, migrate, open_database
from ebok.settings import Settings
from etl.model import BundleRejected, Problem
from etl.publisher.shrink import ShrinkRefused
from etl.snapshot.store import Generation, SnapshotStore
from etl.sync import (
    DEFAULT_MIN_AGE,
    AfterPublish,
    Busy,
    Outcome,
    import_lock,
    process,
    sync,
)

if TYPE_CHECKING:
    from etl.publisher.publish import PublishResult

log = logging.getLogger("ebok.imports")

# Who ran an import, besides a staff login.
SYNC, CLI = "sync", "cli"
# How it came: the panel, the inbox, `ebok import`.
UPLOAD, INBOX, COMMAND = "upload", "sync", "import"

QUEUED, RUNNING = "queued", "running"
PUBLISHED, UNCHANGED, REJECTED, FAILED, INTERRUPTED = (
    "published", "unchanged", "rejected", "failed", "interrupted",
)  # fmt: skip
FINISHED = frozenset({PUBLISHED, UNCHANGED, REJECTED, FAILED, INTERRUPTED})

MAX_NAME = 120  # characters of an uploaded file's name kept
MAX_LISTED_FILES = 200  # files of a bundle the history lists


def new_id(now: datetime | None = None) -> str:
    """`20261124T140509123456Z-1a2b3c`: sorts by time, and is safe in a path and a URL."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"


ID_PATTERN = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{6}$")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class ImportRecord:
    """One import as the history keeps it (and, while it runs, its progress)."""

    id: str
    via: str  # UPLOAD, INBOX or COMMAND
    who: str  # a staff login, SYNC or CLI
    source: str  # the file or folder name (several uploaded files: their names)
    started_at: str  # ISO, UTC
    status: str = QUEUED
    finished_at: str | None = None
    allow_shrink: bool = False
    replace_history: bool = False
    retry_of: str | None = None  # the refused import this one repeats
    files: list[dict[str, Any]] = field(default_factory=list)  # {"name", "size"}
    # Progress while it runs: "waiting" (for another import's lock), "reading", "publishing"
    # (done/total premises documents), "archiving".
    stage: str = ""
    done: int = 0
    total: int = 0
    # The result.
    generation: str | None = None  # published by it (None: nothing was)
    previous_generation: str | None = None  # current before it
    counts: dict[str, int] = field(default_factory=dict)  # everything published after it
    previous_counts: dict[str, int] = field(default_factory=dict)
    communities: dict[str, dict[str, Any]] = field(default_factory=dict)
    previous_communities: dict[str, dict[str, Any]] = field(default_factory=dict)
    rebuilt: int = 0
    warnings: list[str] = field(default_factory=list)
    problems: list[dict[str, Any]] = field(default_factory=list)  # Problem fields
    problem_total: int = 0
    refusal: str = ""  # "shrink" or "history": a valid export an option would publish
    # A shrink refusal's figures: {"community", "table", "published", "exported"} each.
    shrink: list[dict[str, Any]] = field(default_factory=list)
    hint: str = ""
    error: str = ""  # an internal error (a bug, a full disk)
    stored_as: str = ""  # archive/… or rejected/…, relative to the data dir
    report: str = ""  # the report beside it, relative to the data dir
    seconds: float = 0.0
    # The process running a queued or running upload ("host:pid"): a server process that
    # starts marks as interrupted only the unfinished imports of processes that are gone.
    runner: str = ""

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        del data["problems"]  # a column of its own: listing the history does not read them
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_row(cls, record: str, status: str, problems: str | None) -> ImportRecord:
        data = json.loads(record)
        known = _RECORD_FIELDS
        made = cls(**{k: v for k, v in data.items() if k in known})
        made.status = status
        made.problems = json.loads(problems) if problems else []
        return made


def _relative(path: Path | None, data_dir: Path) -> str:
    if path is None:
        return ""
    try:
        return path.relative_to(data_dir).as_posix()
    except ValueError:
        return str(path)


def files_of(path: Path) -> list[dict[str, Any]]:
    """The files of a bundle (a folder's, relative to it), with sizes, for the history."""
    if path.is_file():
        return [{"name": path.name, "size": path.stat().st_size}]
    found = []
    if path.is_dir():
        for p in sorted(path.rglob("*")):
            if p.is_file() and len(found) < MAX_LISTED_FILES:
                found.append({"name": p.relative_to(path).as_posix(), "size": p.stat().st_size})
    return found


def _manifest_figures(generation: Generation | None) -> tuple[dict, dict]:
    if generation is None:
        return {}, {}
    manifest = generation.manifest
    return dict(manifest.get("counts", {})), dict(manifest.get("communities", {}))


# etl.publisher.shrink's problems: value "<published> -> <in the export>", and the reason
# names the community first.
_SHRINK_COMMUNITY = re.compile(r"^community (?P<community>.+?): this export would remove ")


def _shrink_figures(problems: list[Problem]) -> list[dict[str, Any]]:
    figures = []
    for p in problems:
        match = _SHRINK_COMMUNITY.match(p.reason)
        published, _, exported = p.value.partition(" -> ")
        if match and published.isdigit() and exported.isdigit():
            figures.append(
                {
                    "community": match["community"],
                    "table": p.table,
                    "published": int(published),
                    "exported": int(exported),
                }
            )
    return figures


def finish(record: ImportRecord, outcome: Outcome, data_dir: Path) -> ImportRecord:
    """Fill `record` with what etl.sync.process (or `ebok import`) did."""
    record.finished_at = _now()
    record.seconds = round(outcome.seconds, 2)
    record.stage, record.done, record.total = "", 0, 0
    record.stored_as = _relative(outcome.moved_to, data_dir)
    record.report = _relative(outcome.report, data_dir)
    if outcome.previous is not None:
        record.previous_generation = outcome.previous.id
    record.previous_counts, record.previous_communities = _manifest_figures(outcome.previous)
    result: PublishResult | None = outcome.result
    if result is not None:
        record.status = PUBLISHED if result.changed else UNCHANGED
        record.generation = result.generation
        if result.changed:
            record.counts, record.communities = dict(result.counts), dict(result.communities)
        else:
            record.counts = dict(record.previous_counts)
            record.communities = dict(record.previous_communities)
        record.rebuilt, record.warnings = result.rebuilt, list(result.warnings)
    elif outcome.rejection is not None:
        exc = outcome.rejection
        record.status = REJECTED
        record.problems = [dataclasses.asdict(p) for p in exc.problems]
        record.problem_total = exc.total
        # Imported here: the history rules load pandas, which `ebok sync` of an empty inbox,
        # `ebok generations` and the like (this module's other users) do not need.
        from etl.publisher.history import HistoryMismatch

        if isinstance(exc, ShrinkRefused):
            record.refusal, record.shrink = "shrink", _shrink_figures(exc.problems)
        elif isinstance(exc, HistoryMismatch):
            record.refusal = "history"
        record.hint = getattr(exc, "hint", "")
    else:
        record.status, record.error = FAILED, outcome.error or "unknown error"
    return record


# What a stored record may hold (a field since removed is skipped), computed once: the history
# page reads fifty records a request.
_RECORD_FIELDS = frozenset(f.name for f in dataclasses.fields(ImportRecord))


# -- the history ------------------------------------------------------------------------------
# The history's schema (ebok.database.migrate, as "imports"); `IF NOT EXISTS`: files made
# before it was versioned already have the table.
MIGRATIONS = [
    """
    CREATE TABLE IF NOT EXISTS imports (
        id TEXT PRIMARY KEY,
        started_at TEXT NOT NULL,
        status TEXT NOT NULL,
        generation TEXT,
        record TEXT NOT NULL,
        problems TEXT NOT NULL DEFAULT '[]'
    );
    CREATE INDEX IF NOT EXISTS imports_by_time ON imports (started_at, id);
    """,
]


class ImportHistory:
    """The imports table: in DATA/imports.sqlite3, or in the PostgreSQL database of
    EBOK_DATABASE_URL (`Settings.imports_database`), shared by every host. ebok.database keeps
    the connections (one per thread on SQLite: the panel's pages read the history on every
    request, and opening a WAL database costs more than the query); each statement commits on
    its own, so other processes write between calls."""

    def __init__(self, target: Path | str | Database) -> None:
        self.database = open_database(target)
        self.path = self.database.target
        self._migrated = False

    def _db(self) -> Database:
        if not self._migrated:
            migrate(self.database, "imports", MIGRATIONS)
            self._migrated = True
        return self.database

    def save(self, record: ImportRecord) -> None:
        self._db().execute(
            "INSERT INTO imports (id, started_at, status, generation, record, problems)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET status ="
            " excluded.status, generation = excluded.generation, record = excluded.record,"
            " problems = excluded.problems",
            (
                record.id,
                record.started_at,
                record.status,
                record.generation,
                record.to_json(),
                json.dumps(record.problems, ensure_ascii=False),
            ),
        )

    def get(self, record_id: str) -> ImportRecord | None:
        if not self.database.exists():
            return None
        row = (
            self._db()
            .execute("SELECT record, status, problems FROM imports WHERE id = ?", (record_id,))
            .fetchone()
        )
        return ImportRecord.from_row(*row) if row else None

    def page(self, *, offset: int = 0, limit: int | None = None) -> tuple[list[ImportRecord], int]:
        """Newest first, without their problems (`get` has them); and how many there are."""
        if not self.database.exists():
            return [], 0
        db = self._db()
        total = db.execute("SELECT count(*) FROM imports").fetchone()[0]
        newest_first = "SELECT record, status, NULL FROM imports ORDER BY started_at DESC, id DESC"
        if limit is None:
            rows = db.execute(newest_first).fetchall()[offset:]
        else:
            rows = db.execute(newest_first + " LIMIT ? OFFSET ?", (limit, offset)).fetchall()
        return [ImportRecord.from_row(*r) for r in rows], total

    def results(self) -> dict[str, int]:
        """How many finished imports ended with each result."""
        if not self.database.exists():
            return {}
        rows = (
            self._db()
            .execute(
                "SELECT status, COUNT(*) FROM imports WHERE status NOT IN (?, ?) GROUP BY status",
                (QUEUED, RUNNING),
            )
            .fetchall()
        )
        return dict(rows)

    def unfinished(self) -> list[ImportRecord]:
        """Queued and running imports, whichever process runs them, oldest first."""
        if not self.database.exists():
            return []
        rows = (
            self._db()
            .execute(
                "SELECT record, status, NULL FROM imports WHERE status IN (?, ?)"
                " ORDER BY started_at, id",
                (QUEUED, RUNNING),
            )
            .fetchall()
        )
        return [ImportRecord.from_row(*r) for r in rows]

    def interrupt_unfinished(self) -> None:
        """Queued or running imports of a process that is gone (on this host; a record without
        its runner is from before runners were recorded): they never finished. Another server
        process's imports carry on."""
        for record in self.unfinished():
            if not runner_alive(record.runner):
                self._db().execute(
                    "UPDATE imports SET status = ? WHERE id = ? AND status IN (?, ?)",
                    (INTERRUPTED, record.id, QUEUED, RUNNING),
                )


def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def runner_alive(runner: str) -> bool:
    """Whether the process named by `runner_name` is running; another host's are taken to be."""
    host, _, pid = runner.rpartition(":")
    if not host or not pid.isdigit():
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def import_history(
    settings: Settings, *, offset: int = 0, limit: int | None = None
) -> list[ImportRecord]:
    """Every recorded import, newest first (without problems: `ImportHistory.get` has them)."""
    return ImportHistory(settings.imports_database).page(offset=offset, limit=limit)[0]


def _save_quietly(history: ImportHistory, record: ImportRecord) -> None:
    """Record an import; a history that cannot be written must not undo or stop the import."""
    try:
        history.save(record)
    except Exception:  # any database error: the import itself stands
        log.exception("could not record import %s in %s", record.id, describe(history.path))


def sync_inbox(
    settings: Settings,
    *,
    min_age: float = DEFAULT_MIN_AGE,
    after_publish: AfterPublish | None = None,
) -> list[Outcome]:
    """`ebok sync`: etl.sync.sync, recording each imported or rejected bundle (and calling
    `after_publish` after each publish: etl.sync.AfterPublish)."""
    history = ImportHistory(settings.imports_database)

    def record(outcome: Outcome) -> None:
        moved = outcome.moved_to
        rec = ImportRecord(new_id(), INBOX, SYNC, outcome.name, _now(), status=RUNNING)
        rec.files = files_of(moved) if moved is not None else []
        _save_quietly(history, finish(rec, outcome, settings.data_dir))

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
    record = ImportRecord(new_id(), COMMAND, CLI, str(path), _now(), status=RUNNING)
    record.allow_shrink, record.replace_history = allow_shrink, replace_history
    record.files = files_of(path) if path.exists() else []
    history = ImportHistory(settings.imports_database)
    _save_quietly(history, finish(record, outcome, settings.data_dir))
    return record


# -- uploads ----------------------------------------------------------------------------------
_UNSAFE = re.compile(r"[^\w.()+,\- ]+")


def safe_name(name: str, default: str = "plik") -> str:
    """An uploaded file's name as a plain name in its upload folder: the last part of any path
    (`../x.csv`, `C:\\a\\x.csv` -> `x.csv`), letters (Polish too), digits and `._-()+, `
    only, no leading dot (never hidden, never `..`), at most MAX_NAME characters."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name)
    name = re.sub(r"\s+", " ", name).strip(" .")
    if len(name) > MAX_NAME:
        stem, dot, suffix = name.rpartition(".")
        if dot and 0 < len(suffix) <= 10:
            name = stem[: MAX_NAME - len(suffix) - 1].rstrip(" .") + "." + suffix
        else:
            name = name[:MAX_NAME].rstrip(" .")
    return name or default


class Upload:
    """A fresh folder under DATA/uploads for one upload's files."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.id = directory.name
        self.names: list[str] = []

    def create(self, name: str) -> BinaryIO:
        """A new, empty file for an uploaded file called `name` (made safe, and unique in
        this upload), open for writing."""
        safe = safe_name(name)
        stem, dot, suffix = safe.rpartition(".")
        if not dot:
            stem, suffix = safe, ""
        candidate, n = safe, 1
        while (self.directory / candidate).exists():
            n += 1
            candidate = f"{stem}-{n}{dot}{suffix}"
        path = self.directory / candidate
        if path.resolve().parent != self.directory.resolve():  # safe_name makes this impossible
            raise ValueError(f"unsafe upload name {name!r}")
        self.names.append(candidate)
        return open(path, "xb")

    def discard(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def new_upload(settings: Settings) -> Upload:
    directory = settings.uploads_dir / new_id()
    directory.mkdir(parents=True)
    return Upload(directory)


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
            _save_quietly(self.history, self.record)

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
        record = ImportRecord(new_id(), UPLOAD, who, upload_dir.name, _now())
        record.files = files_of(upload_dir)
    record.allow_shrink, record.replace_history = allow_shrink, replace_history
    record.runner = record.runner or runner_name()
    progress = Progress(record, history)
    store = SnapshotStore(settings.snapshots_dir)
    try:
        with _lock_when_free(settings, progress, poll):
            record.status = RUNNING
            _save_quietly(history, record)
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
        record.status, record.error, record.finished_at = FAILED, repr(exc), _now()
        record.stored_as = _relative(upload_dir, settings.data_dir)
    _save_quietly(history, record)
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
        record = ImportRecord(upload.id, UPLOAD, who, source or shown, _now())
        record.runner = runner_name()
        record.allow_shrink, record.replace_history = allow_shrink, replace_history
        record.retry_of, record.files = retry_of, files_of(upload.directory)
        _save_quietly(self.history_db, record)
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
