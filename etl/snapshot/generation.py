"""One published generation, read: its manifest, its premises' documents, its communities'
announcements and documents. Safe to share between threads, never changed.

The read side of a generation, apart from the store (`etl.snapshot.store`, which finds and
hands out generations and re-exports `Generation`, the name readers import) and from the writer
(`etl.snapshot.writer`, which builds the next one, copying from the previous one): both use the
layout names and the checks here.

Documents live in one SQLite file per generation rather than one file per premises: premises
ids contain `/` and worse, 50,000 small files cost seconds to write and fsync, and a reader
gets a document by key in microseconds. The id is only ever a SQL parameter, never a path.

A community's announcements and documents are per community, not per premises: they sit in
tables of their own beside the per-premises documents (`announcements`, `community_documents`,
JSON bodies as in `etl.snapshot.document`), not copied into each premises' document. A PDF is
stored once per content, named by its SHA-256 (see `etl.snapshot.writer`). Generations written
before these tables existed simply have none.
"""

from __future__ import annotations

import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from etl.snapshot.document import Announcement, CommunityDocument, Document

DOCUMENTS_FILE = "premises.sqlite3"
FILES_DIR = "files"  # the communities' PDFs, `<sha256>.pdf`
_DOCUMENT_ID = re.compile(r"[0-9a-f]{64}")
MANIFEST_FILE = "manifest.json"


def is_document_id(text: str) -> bool:
    """Whether `text` can name a stored community document: 64 lowercase hex digits (so it is
    safe as a file name; whether such a document exists is another question)."""
    return isinstance(text, str) and _DOCUMENT_ID.fullmatch(text) is not None


def _ids_json(ids: Iterable[str]) -> str:
    """A JSON array of ids, for `IN (SELECT value FROM json_each(?))`: any number of ids in
    one parameter."""
    return json.dumps(list(ids), ensure_ascii=False)


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
