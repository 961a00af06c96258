"""The import history: every import, whichever way it came, remembered.

The import history (`ImportHistory`, DATA/imports.sqlite3) holds every import with its time,
source, who (a staff login, `sync` or `cli`), result, figures and problems. It is a SQLite
file of etl's own in the data dir: not the accounts database (ebok.sqlite3 is the portal's,
and etl never imports the portal), and not JSON lines, because the panel pages through it
newest first and opens one import by id, and cron's `ebok sync` and the portal write it from
two processes (SQLite serialises them; a crash mid-write leaves no torn line behind). With
EBOK_DATABASE_URL it is a table in that PostgreSQL database instead (ebok.database), so that
every host's panel shows every import.

Here is what an import is once remembered (`ImportRecord`, and `finish`, which fills one from
an etl.inbox.Outcome) and where it is kept; running the imports that write it is etl.imports's,
and the panel's view of it etl.import_service's.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import secrets
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ebok.database import Database, describe, migrate, open_database
from ebok.settings import Settings
from etl.inbox import Outcome
from etl.model import Problem
from etl.publisher.shrink import ShrinkRefused
from etl.snapshot.generation import Generation

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

MAX_LISTED_FILES = 200  # files of a bundle the history lists


def new_id(now: datetime | None = None) -> str:
    """`20261124T140509123456Z-1a2b3c`: sorts by time, and is safe in a path and a URL."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(3)}"


ID_PATTERN = re.compile(r"^\d{8}T\d{12}Z-[0-9a-f]{6}$")


def now_iso() -> str:
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


def relative(path: Path | None, data_dir: Path) -> str:
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
    """Fill `record` with what etl.inbox.process (or `ebok import`) did."""
    record.finished_at = now_iso()
    record.seconds = round(outcome.seconds, 2)
    record.stage, record.done, record.total = "", 0, 0
    record.stored_as = relative(outcome.moved_to, data_dir)
    record.report = relative(outcome.report, data_dir)
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


def save_quietly(history: ImportHistory, record: ImportRecord) -> None:
    """Record an import; a history that cannot be written must not undo or stop the import."""
    try:
        history.save(record)
    except Exception:  # any database error: the import itself stands
        log.exception("could not record import %s in %s", record.id, describe(history.path))
