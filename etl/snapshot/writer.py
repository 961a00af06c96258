"""Building the next generation: written in a temporary directory, synced, then made current.

Only the import writes (etl.publisher, etl.sync); the portal only reads (`etl.snapshot.store`,
`etl.snapshot.generation`). `SnapshotStore.start` returns a `GenerationWriter`; its `commit`
syncs the generation's files and directory, renames it into place and only then switches the
store's pointer, so a crash leaves the previous generation current and whole. The temporary
documents file is written without SQLite's journal or syncing: nothing reads it before commit,
and a killed import's is removed by the next one. `atomic_write_text` is also how the store
switches its pointer (`SnapshotStore.set_current`).

A PDF is stored once per content, named by its SHA-256 (computed here, never a name from the
export); a later generation that keeps it hard-links the previous generation's file (copies it
where links are not possible), so kept generations share one copy on disk.
"""

from __future__ import annotations

import hashlib
import json
import operator
import os
import shutil
import sqlite3
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xxhash

from etl.snapshot.document import FORMAT_VERSION, Announcement, CommunityDocument
from etl.snapshot.generation import (
    DOCUMENTS_FILE,
    FILES_DIR,
    MANIFEST_FILE,
    Generation,
    _ids_json,
    is_document_id,
)

if TYPE_CHECKING:
    from etl.snapshot.store import SnapshotStore


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


def new_generation_id(now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    return now.strftime("%Y%m%dT%H%M%S%fZ")


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
