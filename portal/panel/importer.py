"""What the accountant's pages need of the import service, described on the portal's side.

The service itself is etl's (etl.import_service.ImportService): it validates and publishes exports
exactly as `ebok sync` does, under the same lock, and keeps the import history. The portal may
not import it (the portal reaches etl only through the snapshot contract, .importlinter), so
`ebok serve` makes one and passes it in: `create_app(settings, importer=ImportService(settings))`
(ebok/serve.py). These Protocols say what the panel reads and calls; an app made without an
importer shows the import pages as unavailable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, BinaryIO, Protocol

# ImportRecord.status
QUEUED, RUNNING = "queued", "running"
PUBLISHED, UNCHANGED, REJECTED, FAILED, INTERRUPTED = (
    "published", "unchanged", "rejected", "failed", "interrupted",
)  # fmt: skip


class ImportRecord(Protocol):
    """One import: an upload, an `ebok sync` of the inbox or an `ebok import`."""

    id: str
    via: str  # "upload", "sync" (the inbox) or "import" (`ebok import`)
    who: str  # a staff login, "sync" or "cli"
    source: str  # the file or folder name
    started_at: str  # ISO, UTC
    finished_at: str | None
    status: str  # one of the statuses above
    allow_shrink: bool
    replace_history: bool
    retry_of: str | None
    files: list[dict[str, Any]]  # {"name", "size"}
    stage: str  # while running: "waiting", "reading", "publishing", "archiving"
    done: int  # premises documents written so far, of
    total: int
    generation: str | None  # the generation it published
    previous_generation: str | None
    counts: dict[str, int]  # premises, ledger, fees, allowances published after it
    previous_counts: dict[str, int]  # … and before it
    communities: dict[str, dict[str, Any]]  # id -> as_of, premises, ledger, fees, allowances
    previous_communities: dict[str, dict[str, Any]]
    rebuilt: int
    warnings: list[str]
    problems: list[dict[str, Any]]  # file, table, row, column, value, reason
    problem_total: int
    refusal: str  # "shrink" or "history": a valid export that an option would publish
    shrink: list[dict[str, Any]]  # a shrink refusal: community, table, published, exported
    error: str
    stored_as: str  # archive/… or rejected/…, relative to the data dir
    report: str
    seconds: float

    @property
    def finished(self) -> bool: ...


class Upload(Protocol):
    """A fresh folder for one upload's files."""

    id: str
    names: list[str]

    def create(self, name: str) -> BinaryIO:
        """A new file for an uploaded file called `name` (made safe and unique there)."""
        ...

    def discard(self) -> None: ...


class Rollback(Protocol):
    done: bool
    reason: str  # when not done: "unknown", "current", "busy"
    was: str | None


Finished = Callable[[Any], None]


class Importer(Protocol):
    def receive(self, who: str) -> Upload: ...

    def start(
        self,
        upload: Upload,
        *,
        who: str,
        allow_shrink: bool = False,
        replace_history: bool = False,
        on_finish: Finished | None = None,
    ) -> str:
        """Queue the upload for import in the background; its id."""
        ...

    def retry(self, record_id: str, *, who: str, on_finish: Finished | None = None) -> str | None:
        """Import a refused export again with the option its refusal names; the new id, or
        None when it cannot be."""
        ...

    def job(self, record_id: str) -> ImportRecord | None: ...

    def active(self) -> Sequence[ImportRecord]:
        """Queued and running uploads, the running one first."""
        ...

    def history(self, *, offset: int = 0, limit: int = 50) -> tuple[Sequence[ImportRecord], int]:
        """A page of the history, newest first, and how many imports there are."""
        ...

    def rollback(self, generation_id: str) -> Rollback: ...

    def results(self) -> dict[str, int]:
        """How many recorded imports ended with each result (for /metrics)."""
        ...
