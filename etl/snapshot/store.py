"""Published snapshot generations: written once, never modified, switched by an atomic pointer.

Layout under DATA/snapshots/:
    CURRENT                 the current generation id (replaced by write, fsync, rename)
    <generation id>/        one immutable generation
        manifest.json       sources with SHA-256, as-of dates, counts, import time
        premises.sqlite3    one JSON document per premises (see docs/snapshots.md), and per
                            community its announcements and the index of its documents
        files/<sha256>.pdf  the communities' documents, one file per content (optional)
    .tmp-<id>/              a generation being written; never read, removed on the next publish

Documents live in one SQLite file per generation rather than one file per premises: premises
ids contain `/` and worse, 50,000 small files cost seconds to write and fsync, and a reader
gets a document by key in microseconds. The id is only ever a SQL parameter, never a path.

A community's announcements and documents are per community, not per premises: they sit in
tables of their own beside the per-premises documents (`announcements`, `community_documents`,
JSON bodies as in `etl.snapshot.document`), not copied into each premises' document. A PDF is
stored once per content, named by its SHA-256 (computed here, never a name from the export);
a later generation that keeps it hard-links the previous generation's file (copies it where
links are not possible), so kept generations share one copy on disk. Generations written
before these tables existed simply have none.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import xxhash

from etl.snapshot.document import (
    FORMAT_VERSION,
    Announcement,
    CommunityDocument,
    Document,
)

DOCUMENTS_FILE = "premises.sqlite3"
FILES_DIR = "files"  # the communities' PDFs, `<sha256>.pdf`
_DOCUMENT_ID = re.compile(r"[0-9a-f]{64}")
MANIFEST_FILE = "manifest.json"
POINTER_FILE = "CURRENT"
# How often `SnapshotStore.current()` looks at the pointer again: an import published by another
# process is served at most this many seconds later.
RECHECK_SECONDS = 0.5


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


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
    """The per-document digest stored beside each body (and summed into content_digest): it
    only tells whether content changed, so XXH3-128 (0.05 s for the 560 MB of 50,000
    documents, against 0.37 s for the SHA-256 it replaced; a generation published before
    that differs in every digest, so the first import after the change publishes anew)."""
    return xxhash.xxh3_128_hexdigest(_utf8(body))


def is_document_id(text: str) -> bool:
    """Whether `text` can name a stored community document: 64 lowercase hex digits (so it is
    safe as a file name; whether such a document exists is another question)."""
    return isinstance(text, str) and _DOCUMENT_ID.fullmatch(text) is not None


def _ids_json(ids: Iterable[str]) -> str:
    """A JSON array of ids, for `IN (SELECT value FROM json_each(?))`: any number of ids in
    one parameter."""
    return json.dumps(list(ids), ensure_ascii=False)


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
        """premises id -> community id of every document (what a merge needs to know): read
        once (a generation does not change), for the reference checks and the publisher alike;
        not to be changed by them."""
        found = getattr(self, "_owners", None)
        if found is None:
            rows = self._db().execute("SELECT premises_id, community_id FROM documents")
            found = self._owners = dict(rows)
        return found

    def community_ids(self) -> list[str]:
        rows = self._db().execute("SELECT DISTINCT community_id FROM documents ORDER BY 1")
        return [r[0] for r in rows]

    # -- per community: announcements and documents ------------------------------------------
    def _has_table(self, name: str) -> bool:
        """Whether this generation has the table (those written before the community tables
        existed have not: they have no announcements and no documents)."""
        tables = getattr(self, "_tables", None)
        if tables is None:
            rows = self._db().execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            tables = self._tables = frozenset(r[0] for r in rows)
        return name in tables

    def _bodies(self, table: str, community_ids: Iterable[str]) -> list[Any]:
        if not self._has_table(table):
            return []
        rows = self._db().execute(
            f"SELECT body FROM {table} WHERE community_id IN (SELECT value FROM json_each(?))"
            " ORDER BY community_id, position",
            (_ids_json(community_ids),),
        )
        return [json.loads(body) for (body,) in rows]

    def announcements(self, community_ids: Iterable[str]) -> list[Announcement]:
        """The announcements of these communities, every one published (valid or not), by
        community and then in the export's order."""
        return self._bodies("announcements", community_ids)

    def community_documents(self, community_ids: Iterable[str]) -> list[CommunityDocument]:
        """The documents of these communities, by community and then in the export's order."""
        return self._bodies("community_documents", community_ids)

    def community_document(
        self, document_id: str, community_ids: Iterable[str]
    ) -> CommunityDocument | None:
        """The document `document_id` if one of these communities published it, else None
        (the same answer for "not theirs" and "no such document")."""
        if not is_document_id(document_id) or not self._has_table("community_documents"):
            return None
        row = (
            self._db()
            .execute(
                "SELECT body FROM community_documents WHERE document_id = ?"
                " AND community_id IN (SELECT value FROM json_each(?))"
                " ORDER BY community_id, position LIMIT 1",
                (document_id, _ids_json(community_ids)),
            )
            .fetchone()
        )
        return json.loads(row[0]) if row else None

    def document_file(self, document_id: str) -> Path | None:
        """Where the PDF of `document_id` is, or None. The path is made of the generation's
        own directory and a checked hex id, never of anything an export named."""
        if not is_document_id(document_id):
            return None
        path = self.path / FILES_DIR / f"{document_id}.pdf"
        return path if path.is_file() else None


SCHEMA = """
CREATE TABLE documents (
    premises_id TEXT PRIMARY KEY,
    community_id TEXT NOT NULL,
    digest TEXT NOT NULL,
    body TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE announcements (
    community_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (community_id, position)
) WITHOUT ROWID;
CREATE TABLE community_documents (
    community_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    document_id TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (community_id, position)
) WITHOUT ROWID;
CREATE INDEX community_documents_by_id ON community_documents (document_id);
"""
# Which premises a community has, without reading the documents' pages (hundreds of MB): what
# each import asks of the previous generation (premises_communities, community_ids). Not the
# digests too: that index cost a full import 0.25 s of CPU for 50,000 documents, this 0.05.
DOCUMENTS_INDEX = "CREATE INDEX IF NOT EXISTS documents_by_community ON documents (community_id)"


class GenerationWriter:
    """Builds the next generation in a temporary directory; `commit` makes it current."""

    def __init__(
        self,
        store: SnapshotStore,
        generation_id: str | None = None,
        base: Generation | None = None,
    ) -> None:
        self.store = store
        self.base = base.id if base is not None else None  # the generation it is a copy of
        self.id = generation_id or new_generation_id()
        self.tmp = store.root / f".tmp-{self.id}"
        self.tmp.mkdir(parents=True)
        self.files = self.tmp / FILES_DIR
        self._db: sqlite3.Connection | None = None
        self._copy: Future[Any] | None = None
        self._flush: Future[Any] | None = None
        if base is not None:  # copied in a thread while the import plans (SnapshotStore.start)
            target = self.tmp / DOCUMENTS_FILE
            pool = ThreadPoolExecutor(1, thread_name_prefix="generation-copy")
            self._copy = pool.submit(shutil.copyfile, base.path / DOCUMENTS_FILE, target)
            # then on disk while the import goes on: `commit` syncs only what it changed since
            self._flush = pool.submit(_fsync_file, target)
            pool.shutdown(wait=False)

    @property
    def db(self) -> sqlite3.Connection:
        """The generation's file, open (a base copied first)."""
        if self._db is None:
            if self._copy is not None:
                self._copy.result()
            # Not bound to the creating thread: publish inserts from a writer thread.
            db = sqlite3.connect(self.tmp / DOCUMENTS_FILE, check_same_thread=False)
            db.executescript(
                "PRAGMA page_size = 65536; PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;"
            )
            if self._copy is None:
                db.executescript(SCHEMA)
            db.execute(DOCUMENTS_INDEX)  # a base from before the index gets it
            self._db = db
        return self._db

    def leave_out(self, premises_ids: list[str]) -> None:
        """A writer started from a copy of the previous generation leaves out the documents of
        these premises, and everything of the communities' own tables (etl.publisher.community
        writes them, as into an empty generation)."""
        self.discard(premises_ids)
        for table in ("announcements", "community_documents"):
            self.db.execute(f"DELETE FROM {table}")
        self.db.commit()

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

    def copy_community_content(
        self,
        previous: Generation,
        *,
        replaced_announcements: Iterable[str],
        replaced_documents: Iterable[str],
    ) -> tuple[int, int]:
        """Carry over, unchanged, the announcements and documents of every community whose
        table this import does not replace; the kept documents' files are hard-linked from
        the previous generation. (announcements, documents) copied."""
        counts = [0, 0]
        tables = (
            ("announcements", replaced_announcements),
            ("community_documents", replaced_documents),
        )
        wanted = [(i, t, r) for i, (t, r) in enumerate(tables) if previous._has_table(t)]
        if not wanted:
            return 0, 0
        self.db.execute("ATTACH DATABASE ? AS prev", (str(previous.path / DOCUMENTS_FILE),))
        for i, table, replaced in wanted:
            cur = self.db.execute(
                f"INSERT INTO {table} SELECT * FROM prev.{table}"
                " WHERE community_id NOT IN (SELECT value FROM json_each(?))",
                (_ids_json(replaced),),
            )
            counts[i] = cur.rowcount
        self.db.commit()
        self.db.execute("DETACH DATABASE prev")
        for (document_id,) in self.db.execute(
            "SELECT DISTINCT document_id FROM community_documents"
        ).fetchall():
            source = previous.document_file(document_id)
            if source is None:
                raise FileNotFoundError(f"generation {previous.id} lacks document {document_id}")
            self._link(source, document_id)
        return counts[0], counts[1]

    def _target(self, document_id: str) -> Path:
        if not is_document_id(document_id):
            raise ValueError(f"not a document id: {document_id!r}")
        self.files.mkdir(exist_ok=True)
        return self.files / f"{document_id}.pdf"

    def _link(self, source: Path, document_id: str) -> None:
        target = self._target(document_id)
        if target.exists():
            return
        try:
            os.link(source, target)
        except OSError:  # another file system, or one without hard links
            shutil.copyfile(source, target)

    def add_announcements(self, announcements: Iterable[Announcement]) -> int:
        """Add announcements (of communities not carried over), kept in the given order."""
        return self._add_community_rows("announcements", announcements)

    def add_community_documents(
        self, documents: Iterable[CommunityDocument], files: dict[str, bytes]
    ) -> int:
        """Add documents (of communities not carried over) and their PDFs: `files` maps each
        `document_id` (the SHA-256 of its bytes, checked here) to the bytes."""
        documents = list(documents)
        for document_id in sorted({d["document_id"] for d in documents}):
            target = self._target(document_id)
            if target.exists():
                continue
            data = files[document_id]
            if hashlib.sha256(data).hexdigest() != document_id:
                raise ValueError(f"document {document_id}: its bytes have another SHA-256")
            target.write_bytes(data)
        return self._add_community_rows("community_documents", documents)

    def _add_community_rows(self, table: str, items: Iterable[Any]) -> int:
        positions: dict[str, int] = {}
        for cid, last in self.db.execute(
            f"SELECT community_id, max(position) FROM {table} GROUP BY community_id"
        ):
            positions[cid] = last + 1
        rows = []
        for item in items:
            cid = item["community_id"]
            position = positions.get(cid, 0)
            positions[cid] = position + 1
            body = json.dumps(item, ensure_ascii=False)
            if table == "community_documents":
                rows.append((cid, position, item["document_id"], body))
            else:
                rows.append((cid, position, body))
        marks = ",".join("?" * (4 if table == "community_documents" else 3))
        self.db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
        return len(rows)

    def community_counts(self) -> dict[str, dict[str, int]]:
        """community id -> {"announcements": n, "documents": n} of what is written so far."""
        counts: dict[str, dict[str, int]] = {}
        tables = (("announcements", "announcements"), ("documents", "community_documents"))
        for key, table in tables:
            for cid, n in self.db.execute(
                f"SELECT community_id, count(*) FROM {table} GROUP BY community_id"
            ):
                counts.setdefault(cid, {"announcements": 0, "documents": 0})[key] = n
        return counts

    def discard(self, premises_ids: Iterable[str]) -> None:
        """Drop copied documents that this import rebuilds."""
        self.db.executemany(
            "DELETE FROM documents WHERE premises_id = ?", ((p,) for p in premises_ids)
        )

    def content_digest(self) -> str:
        """Identifies the published content, whatever the import time: equal digests mean
        re-importing changed nothing."""
        h = hashlib.sha256()
        rows = self.db.execute(
            "SELECT premises_id || char(0) || digest || char(10) FROM documents"
            " ORDER BY premises_id"
        ).fetchall()
        h.update("".join(map(operator.itemgetter(0), rows)).encode())
        # The communities' announcements and documents, when there are any (so a generation
        # without them has the digest it had before they existed).
        for table in ("announcements", "community_documents"):
            for cid, position, body in self.db.execute(
                f"SELECT community_id, position, body FROM {table} ORDER BY 1, 2"
            ):
                h.update(f"{table}\0{cid}\0{position}\0{body_digest(body)}\n".encode())
        return h.hexdigest()

    def commit(self, manifest: dict[str, Any]) -> Generation:
        if self._flush is not None:
            self._flush.result()
        self.db.commit()
        self.db.close()
        # The documents file's size: a host that receives generations by copy tells by it a
        # file still being copied (SnapshotStore.current).
        size = (self.tmp / DOCUMENTS_FILE).stat().st_size
        manifest = {
            "schema": FORMAT_VERSION,
            "generation": self.id,
            **manifest,
            "documents_bytes": size,
        }
        (self.tmp / MANIFEST_FILE).write_text(
            json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8"
        )
        for name in (DOCUMENTS_FILE, MANIFEST_FILE):
            _fsync_file(self.tmp / name)
        if self.files.is_dir():
            for path in self.files.iterdir():
                _fsync_file(path)
            _fsync_dir(self.files)
        final = self.store.root / self.id
        os.replace(self.tmp, final)
        _fsync_dir(self.store.root)
        self.store.set_current(self.id)
        return Generation(final)

    def abort(self) -> None:
        try:
            if self._flush is not None:
                self._flush.cancel()  # a copy not yet on disk need not go there now
            for step in (self._copy, self._flush):
                if step is not None and not step.cancelled():
                    step.exception()  # waited for, whatever became of it
            if self._db is not None:
                self._db.close()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _complete(path: Path) -> Generation | None:
    """The generation at `path` if all of it is there: its manifest (which names it), and its
    documents file, of the size the manifest says (manifests from before that have no size)."""
    try:
        generation = Generation(path)
        documents = (path / DOCUMENTS_FILE).stat().st_size
    except (OSError, ValueError):
        return None
    manifest = generation.manifest
    if not isinstance(manifest, dict) or manifest.get("generation", path.name) != path.name:
        return None
    if manifest.get("documents_bytes", documents) != documents:
        return None
    return generation


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
        self._generations: dict[str, Generation] = {}
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
            generation = _complete(self.root / gen_id) if gen_id else None
            if generation is None:
                # The pointer names a generation that is not (all) here: another host's copy
                # that brought the pointer first, or is still copying. The one served so far
                # stays, whole, and the pointer is looked at again after `recheck`.
                self._checked_at = now
                return cached[1] if cached else None
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
        """A published generation by id. Generations never change, so each is read (its
        manifest parsed) once per store; those pruned since are forgotten."""
        ids = self.generation_ids()
        if generation_id not in ids:
            raise KeyError(generation_id)
        with self._lock:
            for gone in set(self._generations) - set(ids):
                del self._generations[gone]
            found = self._generations.get(generation_id)
            if found is None:
                found = self._generations[generation_id] = Generation(self.root / generation_id)
            return found

    def set_current(self, generation_id: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.pointer, generation_id + "\n")
        self._checked_at = None  # this store's next current() reads the new pointer

    def start(self, base: Generation | None = None) -> GenerationWriter:
        """A writer of the next generation; with `base`, starting from a copy of that
        generation's documents file (a re-import that keeps most documents deletes the others
        instead of copying the kept ones a row at a time: GenerationWriter.leave_out)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.remove_abandoned()
        return GenerationWriter(self, base=base)

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
