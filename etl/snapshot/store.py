"""Published snapshot generations: written once, never modified, switched by an atomic pointer.

Layout under DATA/snapshots/:
    CURRENT                 the current generation id (replaced by write, fsync, rename)
    <generation id>/        one immutable generation
        manifest.json       sources with SHA-256, as-of dates, counts, import time
        premises.sqlite3    one JSON document per premises (see docs/snapshots.md)
    .tmp-<id>/              a generation being written; never read, removed on the next publish

Documents live in one SQLite file per generation rather than one file per premises: premises
ids contain `/` and worse, 50,000 small files cost seconds to write and fsync, and a reader
gets a document by key in microseconds. The id is only ever a SQL parameter, never a path.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from etl.snapshot.document import FORMAT_VERSION, Document

DOCUMENTS_FILE = "premises.sqlite3"
MANIFEST_FILE = "manifest.json"
POINTER_FILE = "CURRENT"
# How often `SnapshotStore.current()` looks at the pointer again: an import published by another
# process is served at most this many seconds later.
RECHECK_SECONDS = 0.5


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: Path, text: str) -> None:
    """Replace `path` so that a reader (or a crash) sees either the old or the new content."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _utf8(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode()


def body_digest(body: str | bytes) -> str:
    """The per-document digest stored beside each body (and summed into content_digest)."""
    return hashlib.sha256(_utf8(body)).hexdigest()[:32]


def new_generation_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S%fZ")


class Generation:
    """A read-only view of one published generation. Safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.id = path.name
        self.manifest: dict[str, Any] = json.loads((path / MANIFEST_FILE).read_text("utf-8"))
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            uri = f"file:{self.path / DOCUMENTS_FILE}?mode=ro&immutable=1"
            conn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._local.conn = conn
        return conn

    def document_json(self, premises_id: str) -> str | None:
        row = (
            self._db()
            .execute("SELECT body FROM documents WHERE premises_id = ?", (premises_id,))
            .fetchone()
        )
        return row[0] if row else None

    def document(self, premises_id: str) -> Document | None:
        body = self.document_json(premises_id)
        return json.loads(body) if body is not None else None

    def premises_ids(self, community_id: str | None = None) -> list[str]:
        if community_id is None:
            rows = self._db().execute("SELECT premises_id FROM documents ORDER BY premises_id")
        else:
            rows = self._db().execute(
                "SELECT premises_id FROM documents WHERE community_id = ? ORDER BY premises_id",
                (community_id,),
            )
        return [r[0] for r in rows]

    def documents(self, community_ids: Iterable[str] | None = None) -> Iterator[Document]:
        """All documents, or those of the given communities, parsed."""
        if community_ids is None:
            rows = self._db().execute("SELECT body FROM documents")
        else:
            ids = list(community_ids)
            marks = ",".join("?" * len(ids))
            rows = self._db().execute(
                f"SELECT body FROM documents WHERE community_id IN ({marks})", ids
            )
        for (body,) in rows:
            yield json.loads(body)

    def premises_communities(self) -> dict[str, str]:
        """premises id -> community id of every document (what a merge needs to know)."""
        return dict(self._db().execute("SELECT premises_id, community_id FROM documents"))

    def community_ids(self) -> list[str]:
        rows = self._db().execute("SELECT DISTINCT community_id FROM documents ORDER BY 1")
        return [r[0] for r in rows]


class GenerationWriter:
    """Builds the next generation in a temporary directory; `commit` makes it current."""

    def __init__(self, store: SnapshotStore, generation_id: str | None = None) -> None:
        self.store = store
        self.id = generation_id or new_generation_id()
        self.tmp = store.root / f".tmp-{self.id}"
        self.tmp.mkdir(parents=True)
        # Not bound to the creating thread: publish inserts from a writer thread.
        self.db = sqlite3.connect(self.tmp / DOCUMENTS_FILE, check_same_thread=False)
        self.db.executescript(
            """
            PRAGMA page_size = 65536;
            PRAGMA journal_mode = OFF;
            PRAGMA synchronous = OFF;
            CREATE TABLE documents (
                premises_id TEXT PRIMARY KEY,
                community_id TEXT NOT NULL,
                digest TEXT NOT NULL,
                body TEXT NOT NULL
            ) WITHOUT ROWID;
            """
        )

    def add_digested(self, rows: list[tuple[str, str, str, str | bytes]]) -> None:
        """Add (premises_id, community_id, body_digest(body), body) rows, many per statement:
        SQLite then works for long stretches without Python's GIL, so a writer thread really
        runs beside the one building the documents."""
        per = 500
        for start in range(0, len(rows), per):
            chunk = rows[start : start + per]
            marks = ",".join(["(?, ?, ?, CAST(? AS TEXT))"] * len(chunk))
            self.db.execute(
                f"INSERT INTO documents VALUES {marks}", [v for row in chunk for v in row]
            )

    def copy_from(self, previous: Generation, keep_communities: Iterable[str]) -> int:
        """Carry over, unchanged, the documents of communities this import does not touch."""
        ids = list(keep_communities)
        if not ids:
            return 0
        self.db.execute("ATTACH DATABASE ? AS prev", (str(previous.path / DOCUMENTS_FILE),))
        total = 0
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            cur = self.db.execute(
                "INSERT INTO documents SELECT * FROM prev.documents "
                f"WHERE community_id IN ({marks})",
                chunk,
            )
            total += cur.rowcount
        self.db.commit()
        self.db.execute("DETACH DATABASE prev")
        return total

    def discard(self, premises_ids: Iterable[str]) -> None:
        """Drop copied documents that this import rebuilds."""
        self.db.executemany(
            "DELETE FROM documents WHERE premises_id = ?", ((p,) for p in premises_ids)
        )

    def content_digest(self) -> str:
        """Identifies the published content, whatever the import time: equal digests mean
        re-importing changed nothing."""
        h = hashlib.sha256()
        for pid, digest in self.db.execute(
            "SELECT premises_id, digest FROM documents ORDER BY premises_id"
        ):
            h.update(f"{pid}\0{digest}\n".encode())
        return h.hexdigest()

    def commit(self, manifest: dict[str, Any]) -> Generation:
        self.db.commit()
        self.db.close()
        manifest = {"schema": FORMAT_VERSION, "generation": self.id, **manifest}
        (self.tmp / MANIFEST_FILE).write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8"
        )
        for name in (DOCUMENTS_FILE, MANIFEST_FILE):
            with open(self.tmp / name, "rb") as fh:
                os.fsync(fh.fileno())
        final = self.store.root / self.id
        os.replace(self.tmp, final)
        _fsync_dir(self.store.root)
        self.store.set_current(self.id)
        return Generation(final)

    def abort(self) -> None:
        try:
            self.db.close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


class SnapshotStore:
    """The generations under DATA/snapshots. `current()` is cheap enough to call per request:
    it looks at the pointer's mtime at most every `recheck` seconds (by `clock`, monotonic) and
    re-reads the pointer only when that changed, so a new import shows up without a restart,
    at most `recheck` seconds after it was published by another process and at once when it
    was published through this store."""

    def __init__(
        self,
        root: Path,
        *,
        recheck: float = RECHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = root
        self.recheck = recheck
        self.clock = clock
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, int], Generation] | None = None
        self._checked_at: float | None = None  # clock() when `_cached` was last confirmed

    @property
    def pointer(self) -> Path:
        return self.root / POINTER_FILE

    def current(self) -> Generation | None:
        cached = self._cached
        checked_at = self._checked_at
        now = self.clock()
        if cached and checked_at is not None and 0 <= now - checked_at < self.recheck:
            return cached[1]
        try:
            st = self.pointer.stat()
        except FileNotFoundError:
            return None
        key = (st.st_mtime_ns, st.st_ino)
        if cached and cached[0] == key:
            self._checked_at = now
            return cached[1]
        with self._lock:
            gen_id = self.pointer.read_text("utf-8").strip()
            path = self.root / gen_id
            if not gen_id or not path.is_dir():
                return None
            generation = Generation(path)
            self._cached = (key, generation)
            self._checked_at = now
            return generation

    def generation_ids(self) -> list[str]:
        """Published generations, oldest first."""
        if not self.root.is_dir():
            return []
        return sorted(
            p.name
            for p in self.root.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / MANIFEST_FILE).exists()
        )

    def generation(self, generation_id: str) -> Generation:
        if generation_id not in self.generation_ids():
            raise KeyError(generation_id)
        return Generation(self.root / generation_id)

    def set_current(self, generation_id: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.pointer, generation_id + "\n")
        self._checked_at = None  # this store's next current() reads the new pointer

    def start(self) -> GenerationWriter:
        self.root.mkdir(parents=True, exist_ok=True)
        self.remove_abandoned()
        return GenerationWriter(self)

    def remove_abandoned(self) -> None:
        """Drop half-written generations left by a killed import."""
        for p in self.root.glob(".tmp-*"):
            shutil.rmtree(p, ignore_errors=True)

    def prune(self, keep: int) -> list[str]:
        """Delete all but the newest `keep` generations, never the current one."""
        current = self.current()
        ids = self.generation_ids()
        doomed = [g for g in ids[: max(0, len(ids) - keep)] if not current or g != current.id]
        for g in doomed:
            shutil.rmtree(self.root / g, ignore_errors=True)
        return doomed
