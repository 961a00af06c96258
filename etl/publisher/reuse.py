"""A re-import that changes a few premises rebuilds only their documents.

Each document built from a complete bundle is recorded in the generation with a digest of
everything it was built from (`document_inputs`): its community and premises sections, its
rows of every table (values, files and row numbers: etl.publisher.grouping hashes them per
premises without making a Python object of a row), the rules it was built under and the
format version. The next import computes the same digests; a premises whose digest the
current generation holds gets that generation's document, copied in SQL, and its figures
from the record, and is not built again. Generations stay immutable: the copy is a new row in
the new generation's own file, and the pointer still switches once, when all of it is written.

A bundle that is not complete (a lone ledger, say) takes parts of each document from the
previous one, so its documents are always built, and recorded without a digest.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from etl.mixing import mixed
from etl.publisher.grouping import Groups, value_hash
from etl.publisher.published import read_only
from etl.snapshot.document import FORMAT_VERSION
from etl.snapshot.generation import DOCUMENTS_FILE, Generation

TABLE = "document_inputs"
# (premises id, digest, ledger rows, fee lines, allowances, readings) of a document
Record = tuple[str, str, int, int, int, int]
# Bump when the way documents are built from the same rows changes: old records then match
# nothing and every document is built anew once.
RULES = "2"
# The share of the previous documents reused above which `copy` takes them all and deletes
# the others: copying whole records is cheaper than picking rows, deleting a few is cheap.
WHOLE_COPY = 0.9
# The share of the previous documents a bundle keeps unread (etl.reader.ledger_delta) above
# which the new generation starts as a copy of the previous file (the operating system copies
# 560 MB in ~0.2 s) and the documents not kept are deleted from it.
BASE_COPY = 0.5


class StaleKept(Exception):
    """The bundle's kept premises (etl.reader.ledger_delta) cannot be copied from the current
    generation: it was built under other rules or another mode, or lacks their records. The
    bundle must be read again whole; nothing was written."""


def stamp(mode: str, setup: str) -> str:
    """What a generation's documents were built under (its manifest's `built_under`): a
    kept premises' document may be copied from it only under the same. Unlike a digest, a kept
    document's inputs are not worked out again, so this covers all that could make the same
    files give another document: the rules, the format, the mode, how the files were read
    (`setup`: the aliases) and the code that reads and builds (any change to it, even one
    that forgot to bump RULES, has the next re-import read everything once)."""
    return f"{RULES}|{FORMAT_VERSION}|{mode}|{setup}|{_code()}"


@functools.cache
def _code() -> str:
    """A digest of the source of everything between a file and a document."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]  # etl/
    for folder in ("reader", "publisher", "snapshot"):
        for source in sorted((root / folder).glob("*.py")):
            digest.update(source.name.encode() + b"\0" + source.read_bytes())
    digest.update((root / "model.py").read_bytes())
    return digest.hexdigest()[:16]


def create(db: sqlite3.Connection) -> None:
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} (premises_id TEXT PRIMARY KEY, digest TEXT NOT NULL,"
        " ledger INTEGER, fees INTEGER, allowances INTEGER, readings INTEGER) WITHOUT ROWID"
    )


_ODD = [np.uint64(c) for c in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9)]


SORTED = orjson.OPT_SORT_KEYS


def _hashes(items: list[str] | list[bytes]) -> np.ndarray:
    """A 64-bit hash of each text (pandas' SipHash with its fixed key: the same in every
    process), all in one call."""
    return pd.util.hash_array(np.array(items, dtype=object), categorize=False)


def digests(
    ids: Iterable[str],
    owner: dict[str, str],
    communities: dict[str, dict[str, Any]],
    premises: dict[str, tuple[str, dict[str, Any]]],
    tables: dict[str, Groups | None],
    mode: str,
) -> dict[str, str]:
    """premises id -> the digest of what its document is built from, for premises whose
    community section the bundle carries (the others are always built). The parts (ids,
    section hashes, each table's span hash) are combined a column at a time in numpy, two
    independent 64-bit lanes: no Python string or hash object per premises and part."""
    spans = {name: g.span_hashes() if g is not None else None for name, g in tables.items()}
    sections = {cid: value_hash(section) for cid, section in communities.items()}
    chosen = [pid for pid in ids if owner[pid] in sections and pid in premises]
    if not chosen:
        return {}
    cids = [owner[pid] for pid in chosen]
    words = [
        _hashes(chosen),
        _hashes(cids),
        np.array([sections[cid] for cid in cids], dtype=np.uint64),
        _hashes([orjson.dumps(premises[pid][1], option=SORTED, default=str) for pid in chosen]),
    ]
    for found in spans.values():
        if found is not None:
            words.append(np.array([found.get(pid, 0) for pid in chosen], dtype=np.uint64))
    # What is the same for every premises: the rules, the format, the mode, which tables
    # the bundle has (and the hashing library's version, should it ever hash otherwise).
    same = [RULES, FORMAT_VERSION, mode, pd.__version__, [[n, f is None] for n, f in spans.items()]]
    lanes = []
    for lane, seed in enumerate((value_hash(same), value_hash([same, "second lane"]))):
        h = np.full(len(chosen), seed, dtype=np.uint64)
        for k, word in enumerate(words):
            h = mixed(h * _ODD[(k + lane) % len(_ODD)] + word)
        lanes.append(h.tolist())
    return {pid: f"{a:016x}{b:016x}" for pid, a, b in zip(chosen, lanes[0], lanes[1], strict=True)}


@contextmanager
def _records(generation: Generation) -> Iterator[sqlite3.Connection | None]:
    """The generation's file read-only, or None when it has no records (written before them)."""
    db = read_only(generation)
    try:
        found = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
        ).fetchone()
        yield db if found else None
    finally:
        db.close()


def previous(
    generation: Generation, ids: Iterable[str] | None = None
) -> dict[str, tuple[str, Sequence[int]]]:
    """premises id -> (digest, [ledger, fees, allowances, readings]) recorded in a
    generation (none in one written before records existed), of every premises or of `ids`."""
    with _records(generation) as db:
        if db is None:
            return {}
        query = f"SELECT * FROM {TABLE} WHERE digest != ''"
        if ids is None:
            rows = db.execute(query).fetchall()
        else:
            chosen = json.dumps(list(ids), ensure_ascii=False)
            query += " AND premises_id IN (SELECT value FROM json_each(?))"
            rows = db.execute(query, (chosen,)).fetchall()
        return {row[0]: (row[1], row[2:]) for row in rows}


def recorded_count(generation: Generation) -> int:
    """How many documents of a generation have a record with a digest."""
    with _records(generation) as db:
        if db is None:
            return 0
        return int(db.execute(f"SELECT count(*) FROM {TABLE} WHERE digest != ''").fetchone()[0])


def copy(db: sqlite3.Connection, generation: Generation, ids: list[str]) -> None:
    """The documents (and records) of `ids`, unchanged, from `generation` into `db`."""
    if not ids:
        return
    db.execute("ATTACH DATABASE ? AS prev", (str(generation.path / DOCUMENTS_FILE),))
    try:
        if _copy_whole(db, ids):
            db.commit()
            return
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            db.execute(
                "INSERT INTO documents SELECT * FROM prev.documents"
                f" WHERE premises_id IN ({marks})",
                chunk,
            )
            db.execute(
                f"INSERT INTO {TABLE} SELECT * FROM prev.{TABLE} WHERE premises_id IN ({marks})",
                chunk,
            )
        db.commit()
    finally:
        db.execute("DETACH DATABASE prev")


def _copy_whole(db: sqlite3.Connection, ids: list[str]) -> bool:
    """When nearly every previous document is reused and nothing is written yet, the whole
    tables copied (SQLite's transfer of whole records, page by page: 0.50 s for 560 MB of
    documents against 0.57 s for 49,510 rows picked by id) and the few not reused deleted;
    False (nothing done) otherwise."""
    for table in ("documents", TABLE):
        if db.execute(f"SELECT 1 FROM main.{table} LIMIT 1").fetchone():
            return False
    previous = db.execute(f"SELECT count(*) FROM prev.{TABLE}").fetchone()[0]
    if len(ids) < WHOLE_COPY * previous:
        return False
    # A bare `INSERT INTO t SELECT * FROM prev.t` into an empty table of the same schema is
    # what SQLite copies record by record without decoding them (its transfer optimisation).
    db.execute("INSERT INTO documents SELECT * FROM prev.documents")
    db.execute(f"INSERT INTO {TABLE} SELECT * FROM prev.{TABLE}")
    kept = json.dumps(ids, ensure_ascii=False)
    for table in ("documents", TABLE):
        db.execute(
            f"DELETE FROM main.{table} WHERE premises_id NOT IN (SELECT value FROM json_each(?))",
            (kept,),
        )
    return True


def forget(db: sqlite3.Connection, ids: list[str]) -> None:
    """The records of documents a generation started from a copy of the previous one does
    not keep as they are (GenerationWriter.leave_out; those built anew)."""
    db.execute(
        f"DELETE FROM {TABLE} WHERE premises_id IN (SELECT value FROM json_each(?))",
        (json.dumps(ids, ensure_ascii=False),),
    )
    db.commit()


def copy_kept(db: sqlite3.Connection, generation: Generation) -> None:
    """The records of the documents copied with their communities (etl.snapshot.writer's
    copy_from), so that a later import may reuse them too."""
    db.execute("ATTACH DATABASE ? AS prev", (str(generation.path / DOCUMENTS_FILE),))
    try:
        if db.execute(
            "SELECT 1 FROM prev.sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
        ).fetchone():
            db.execute(
                f"INSERT OR IGNORE INTO {TABLE} SELECT * FROM prev.{TABLE}"
                " WHERE premises_id IN (SELECT premises_id FROM main.documents)"
            )
        db.commit()
    finally:
        db.execute("DETACH DATABASE prev")


def record(db: sqlite3.Connection, rows: list[Record]) -> None:
    db.executemany(f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?)", rows)
    db.commit()
