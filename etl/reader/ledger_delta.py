"""A re-import's ledger read as what changed since the last import.

When every other file of the bundle is the one the current generation was built from (same
names, same SHA-256) and the ledger's chunks (etl.reader.chunks) are mostly those of the last
import at the same lines (etl.reader.ledger_map), a premises none of whose rows are in a
changed or vanished chunk has exactly the inputs its published document was built from: it is
*kept* (its document copied, etl.publisher.publish), and its rows need not be read at all. The
ledger this returns holds only the other premises' rows: those of the changed chunks (parsed
and validated now) and their rows in unchanged chunks (from the cache, etl.reader.block_cache).
Row numbers are the file's lines, as a whole reading numbers them.

Why not simply digest every premises' rows, as etl.publisher.reuse does: that needs every row
parsed or decoded again, about two thirds of a full import; this touches the changed chunks
and their neighbours only. Whatever does not fit (no map, a map of another file, a chunk the
cache lost) raises NotIncremental and the ledger is read whole.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd
import pyarrow as pa

from etl.reader import block_cache, ledger_map
from etl.reader.archive import Member
from etl.reader.block_pack import CHUNK, CHUNK_REF
from etl.reader.chunks import Chunk
from etl.reader.headers import HeaderMap
from etl.reader.ledger_blocks import ledger_block
from etl.reader.raw import Problems
from etl.reader.references import member_of
from etl.reader.stream import Block, Coded, Lines, Part
from etl.snapshot.store import Generation

# The size, against the ledger's, up to which a re-import adds to the last pack rather than
# writing it anew: a fresh pack is ~27 % of its ledger, a re-import with 1 % of premises
# changed adds ~1 %, so about thirty of them go between two packs written anew.
PACK_LIMIT = 0.6


class NotIncremental(Exception):
    """The last import's chunks cannot stand for part of this ledger: read it whole."""


def since(
    files: Iterable[Member], collection: bool, previous: Generation | None, work_dir: Path | None
) -> ledger_map.LedgerMap | None:
    """The last import's ledger map, if this bundle differs from what the current generation
    was built from in its ledger at most (every other file the same, by SHA-256); else None."""
    if not collection or previous is None or work_dir is None:
        return None
    if previous.manifest.get("kind") != "contract":
        return None
    mapped = ledger_map.load(block_cache.cache_dir(work_dir))
    if mapped is None:
        return None
    published = {s.get("name"): s.get("sha256") for s in previous.manifest.get("sources", [])}
    if published.get(mapped.file) != mapped.sha256:
        return None  # the current generation was not built from the ledger the map is of
    names = set()
    for entry in files:
        names.add(entry.name)
        if entry.name == mapped.file:
            continue
        if published.get(entry.name) != entry.sha256:
            return None
    if names != set(published) or PurePosixPath(mapped.file).suffix.lower() != ".csv":
        return None
    return mapped


def read(
    pieces: Iterator[list[str] | Block],
    mapped: ledger_map.LedgerMap,
    codec: str,
    file: str,
    matched: HeaderMap,
    problems: Problems,
    work_dir: Path,
    unchanged: Callable[[float], None] | None = None,
) -> tuple[list[Part], set[str]]:
    """(the validated rows of the premises whose ledger changed, the premises whose ledger
    did not): the changed chunks parsed and validated, the rest taken as the map says. Makes
    this import's chunks the cache and its map, as a whole reading does. `unchanged` hears
    the share of the ledger's chunks the last import had, as soon as it is known (before the
    changed ones are read: the publisher may start on what it will keep, etl.sync)."""
    state: dict[str, block_cache._Session] = {}
    try:
        return _read(pieces, mapped, codec, file, matched, problems, work_dir, state, unchanged)
    except NotIncremental:
        if "session" in state:
            state["session"].pack.abort()
        raise


def _read(
    pieces: Iterator[list[str] | Block],
    mapped: ledger_map.LedgerMap,
    codec: str,
    file: str,
    matched: HeaderMap,
    problems: Problems,
    work_dir: Path,
    state: dict[str, block_cache._Session],
    share: Callable[[float], None] | None,
) -> tuple[list[Part], set[str]]:
    session: block_cache._Session | None = None
    extended = False
    last: Lines | None = None
    new: list[tuple[Chunk, bytes]] = []  # the changed chunks of the whole file, and keys
    unchanged: list[tuple[bytes, int]] = []
    for block in pieces:
        if not isinstance(block, Lines):
            raise NotIncremental
        if session is None:
            session = block_cache._session(block, work_dir)
            if session is None:
                raise NotIncremental
            state["session"] = session
            # the old pack copied and added to, while it is small against the ledger
            extended = session.pack.extend(int(PACK_LIMIT * block.found.size))
        last = block
        context = block_cache._context(block, codec, matched)
        for c in block.chunks:
            key = hashlib.sha256(context + c.digest).digest()
            if (key, c.line) in mapped.chunks:
                unchanged.append((key, c.line))
                session.mapped[key, c.line] = mapped.chunks[key, c.line]
            else:
                new.append((c, key))
    if session is None or last is None:
        raise NotIncremental
    if share is not None:
        share(len(unchanged) / max(1, len(unchanged) + len(new)))
    touched: set[str] = set()
    changed: list[Part] = []
    if new:  # parsed and validated at once, wherever in the file they are
        chunks, keys = [c for c, _ in new], [key for _, key in new]
        run = Lines(
            last.fh, chunks, last.names, last.sep,
            found=last.found, last=chunks[-1] is last.chunks[-1], session=last.session,
        )  # fmt: skip
        parsed = run.parse()
        if parsed is not None:
            before = problems.total
            part = ledger_block(parsed, codec, file, matched, problems)
            lines = [c.line for c in chunks]
            ids = ledger_map.chunk_premises(part, lines)
            session.mapped.update(zip(zip(keys, lines, strict=True), ids, strict=True))
            touched.update(p for found in ids for p in found)
            if problems.total == before:
                block_cache._keep(session.pack, part, chunks, keys, [True] * len(chunks))
            changed.append(part)
    sha256 = last.found.sha256
    seen = set(unchanged)
    for where, ids in mapped.chunks.items():
        if where not in seen:  # a chunk that is no more: its premises' rows changed
            touched.update(ids)
    parts = [*changed, *_neighbours(session, unchanged, mapped, touched)]
    if not extended:  # a pack written anew: the unchanged chunks' entries carried into it
        for key, _ in unchanged:
            _carry(session, key)
    session.finish(file, sha256, problems.total == 0)
    kept = {p for where in unchanged for p in mapped.chunks[where]} - touched
    return parts, kept


def leave_out(tables: dict[str, pd.DataFrame], kept: set[str]) -> None:
    """The rows of the kept premises taken out of the tables read whole (fees, allowances,
    readings): their documents are copied, and their rows were checked by the import that
    built them (the files are the same)."""
    for name in ("fees", "allowances", "readings"):
        frame = tables.get(name)
        if frame is not None and len(frame) and kept:
            tables[name] = frame[~member_of(frame["premises_id"], kept)]


def _neighbours(
    session: block_cache._Session,
    unchanged: list[tuple[bytes, int]],
    mapped: ledger_map.LedgerMap,
    touched: set[str],
) -> Iterator[Part]:
    """The rows of the touched premises that lie in unchanged chunks, from the cache: a part
    per cached block (its text values cut to those these rows use)."""
    columns: dict[str, list[np.ndarray]] = {}
    source: bytes | None = None
    for key, line in unchanged:
        if touched.isdisjoint(mapped.chunks[key, line]):
            continue
        piece = session.piece(key, line)
        if piece is None:
            raise NotIncremental
        if piece.source != source:
            if source is not None:
                yield _part(columns, session.sources[source])  # type: ignore[arg-type]
            session.forget()
            source, columns = piece.source, {name: [] for name in piece.columns}
            values = session.sources[source]
            assert values is not None  # the piece was found by them
            owners = values["premises_id"].to_pylist()
            wanted = np.array([p in touched for p in owners], dtype=bool)
        rows = wanted[piece.columns["premises_id"]]
        for name, column in piece.columns.items():
            columns[name].append(column[rows])
    if source is not None:
        yield _part(columns, session.sources[source])  # type: ignore[arg-type]


def _part(columns: dict[str, list[np.ndarray]], values: dict[str, pa.Array]) -> Part:
    part: Part = {}
    for name, pieces in columns.items():
        column = np.concatenate(pieces)
        if name in values:
            used, codes = np.unique(column, return_inverse=True)
            part[name] = Coded(
                codes.astype(np.int32), values[name].take(pa.array(used)).to_pylist()
            )
        else:
            part[name] = column
    return part


def _carry(session: block_cache._Session, key: bytes) -> None:
    """An unchanged chunk's entries (and its block's) into the new pack, unread."""
    payload = session.pack.get(key, CHUNK)
    if payload is None or len(payload) != CHUNK_REF.size:
        return
    rows_key, values_key, _, _ = CHUNK_REF.unpack(payload)
    if session.pack.carry(rows_key) and session.pack.carry(values_key):
        session.pack.carry(key)
