"""Validated ledger chunks kept from the last import, so that a re-import parses and validates
only the chunks whose bytes changed.

A chunk (etl.reader.chunks) is found again by a key: the SHA-256 of its bytes together with
everything else that decides what they validate to (the header line, the encoding, the
separator, which column is which, the rules' version, the parsers' versions, a digest of
the validating code itself). Only chunks that validated without a problem are kept, so a
problem is always found by parsing and worded as the validation words it; row numbers are
kept relative to the chunk's first line, so a chunk that moved (lines added above it) is still
found.

What is kept per run of chunks (a block, etl.reader.stream.Lines) is its text columns'
distinct values once and its rows as codes into them and amounts, a column at a time, and per
chunk which of those rows are its own (etl.reader.block_pack: the file, its entries, how each
import replaces it). A re-import joins the chunks of a block taken from the cache and those
parsed anew with a few array operations per column and block, not a Python object per row.
"""

from __future__ import annotations

import functools
import hashlib
import struct
import sys
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from etl.reader import (
    cell_columns,
    cells,
    column_checks,
    ledger_blocks,
    ledger_map,
    stream,
    validate,
)
from etl.reader.block_pack import (
    CHUNK,
    CHUNK_REF,
    ROWS,
    VALUES,
    Pack,
    Rows,
    decode_values,
    encode_rows,
    encode_values,
)
from etl.reader.headers import HeaderMap
from etl.reader.ledger_blocks import ledger_block
from etl.reader.raw import Problems
from etl.reader.stream import Block, Coded, Lines, Part, narrow

# Bump when what a chunk validates to changes (etl.reader.ledger_blocks, cells, cell_columns,
# column_checks): older entries then match nothing.
RULES = "1"
CACHE_DIR = "cache"
FIRST_SEEN = {"premises_id"}  # values kept in the order rows first show them (see _joined)


def cache_dir(work_dir: Path) -> Path:
    """DATA/cache, beside DATA/work (the import's scratch folder)."""
    return work_dir.parent / CACHE_DIR


class _Piece:
    """One chunk's rows: text as codes into the values of `source`, numbers as they are."""

    def __init__(self, source: bytes, columns: dict[str, np.ndarray]) -> None:
        self.source, self.columns = source, columns


# --- a block joined from its chunks ----------------------------------------------------------


def _joined(pieces: list[_Piece], sources: dict[bytes, dict[str, pa.Array]]) -> Part:
    """The chunks of a block as one part: each text column's values are the union of the
    values entries its chunks use (found by Arrow), cut to those the rows use. Premises ids
    are numbered in the order the rows first show them, as a block parsed whole numbers them:
    the publisher then finds a ledger listed premises by premises already in order."""
    out: Part = {}
    sizes = [len(p.columns["_row"]) for p in pieces]
    n = sum(sizes)
    used_sources = list(dict.fromkeys(p.source for p in pieces))
    for name in pieces[0].columns:
        if name not in sources[pieces[0].source]:
            out[name] = np.concatenate([p.columns[name] for p in pieces])
            continue
        arrays = [sources[s][name] for s in used_sources]
        at = dict(
            zip(used_sources, np.cumsum([0] + [len(a) for a in arrays]).tolist()[:-1], strict=True)
        )
        encoded = pc.dictionary_encode(pa.concat_arrays(arrays), null_encoding="encode")
        index = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        local = np.concatenate([p.columns[name] for p in pieces]).astype(np.int64)
        if len(used_sources) > 1:  # each chunk's codes into its own source's values
            local += np.repeat(np.array([at[p.source] for p in pieces], dtype=np.int64), sizes)
        codes = index[local]
        size = len(encoded.dictionary)
        if name in FIRST_SEEN:
            first = np.full(size, n, dtype=np.int64)
            first[codes[::-1]] = np.arange(n - 1, -1, -1)  # the last write wins: the first row
            kept = np.flatnonzero(first < n)
            kept = kept[np.argsort(first[kept], kind="stable")]
        else:
            used = np.zeros(size, dtype=bool)
            used[codes] = True
            kept = np.flatnonzero(used)
        remap = np.empty(size, dtype=np.int64)
        remap[kept] = np.arange(len(kept))
        values = encoded.dictionary.take(pa.array(kept)).to_pylist()
        out[name] = Coded(narrow(remap[codes]), values)
    return out


def _pieces_of(part: Part, bounds: list[int]) -> list[_Piece]:
    """A validated run cut at these row positions, its codes still into its own values."""
    out = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        columns = {
            name: (column.codes if isinstance(column, Coded) else column)[a:b]  # type: ignore[index]
            for name, column in part.items()
        }
        out.append(_Piece(b"", columns))
    return out


# --- the hook: a block validated, from the cache where it can --------------------------------


@functools.cache
def _rules_source() -> str:
    """A digest of the code that parses and validates a chunk: a change to it (a rule made
    stricter, say) leaves the cache behind even where RULES was not bumped."""
    digest = hashlib.sha256()
    modules = (cells, cell_columns, column_checks, ledger_blocks, stream, validate)
    for module in (*modules, sys.modules[__name__]):
        try:
            digest.update(Path(module.__file__ or "").read_bytes())
        except OSError:
            digest.update(module.__name__.encode())
    return digest.hexdigest()


def _context(block: Lines, codec: str, matched: HeaderMap) -> bytes:
    """What besides a chunk's bytes decides what it validates to."""
    found = block.found
    return orjson.dumps(
        [
            RULES,
            _rules_source(),
            pa.__version__,
            np.__version__,
            found.encoding,
            codec,
            block.sep,
            found.chunks[0].digest.hex(),  # the header line
            len(block.names),
            sorted(matched.columns.items()),
            sorted(matched.written.items()),
            matched.polish,
        ]
    )


class _Session:
    """The cache while one file is read: the packs, and the entries decoded so far."""

    def __init__(self, directory: Path) -> None:
        self.pack = Pack(directory)
        self.sources: dict[bytes, dict[str, pa.Array] | None] = {}
        self.rows: dict[bytes, Rows | None] = {}
        self.mapped: dict[tuple[bytes, int], tuple[str, ...]] = {}  # etl.reader.ledger_map

    def finish(self, file: str, sha256: str, clean: bool) -> None:
        """The file's last block was read: this import's chunks become the cache, and its
        map, if nothing in the file had a problem (and the pack could be written)."""
        directory = self.pack.path.parent
        if self.pack.commit() and clean:
            ledger_map.save(directory, ledger_map.LedgerMap(file, sha256, self.mapped))
        else:
            ledger_map.forget(directory)

    def forget(self) -> None:
        """Let the entries decoded so far go (a block's rows are megabytes), but for those
        of the block read last, which the next one may share (blocks are cut anew)."""
        for kept in (self.sources, self.rows):
            recent = list(kept.items())[-2:]
            kept.clear()
            kept.update(recent)

    def values(self, key: bytes) -> dict[str, pa.Array] | None:
        if key not in self.sources:
            payload = self.pack.get(key, VALUES)
            try:
                self.sources[key] = decode_values(payload) if payload is not None else None
            except (ValueError, TypeError, KeyError, struct.error, pa.ArrowException):
                self.sources[key] = None  # a corrupt entry: its chunks are parsed again
        return self.sources[key]

    def block_rows(self, key: bytes, values: dict[str, pa.Array]) -> Rows | None:
        if key not in self.rows:
            payload = self.pack.get(key, ROWS)
            try:
                rows = Rows(payload) if payload is not None else None
                for name in rows.text if rows is not None else ():
                    codes = rows.columns[name]
                    if len(codes) and (codes.min() < 0 or codes.max() >= len(values[name])):
                        raise ValueError("codes out of range")
                self.rows[key] = rows
            except (ValueError, TypeError, KeyError, struct.error):
                self.rows[key] = None
        return self.rows[key]

    def piece(self, key: bytes, first_line: int) -> _Piece | None:
        """The chunk kept under `key`, if it (its block's rows and values) check out."""
        payload = self.pack.get(key, CHUNK)
        if payload is None or len(payload) != CHUNK_REF.size:
            return None
        rows_key, values_key, a, b = CHUNK_REF.unpack(payload)
        values = self.values(values_key)
        rows = self.block_rows(rows_key, values) if values is not None else None
        if rows is None or not a <= b <= rows.n:
            return None
        columns = rows.rows(a, b)
        if "_row" in columns:
            columns["_row"] = columns["_row"] + first_line
        else:
            columns["_row"] = first_line + np.arange(b - a, dtype=np.int64)
        return _Piece(values_key, columns)


def _session(block: Lines, work_dir: Path) -> _Session | None:
    if "cache" not in block.session:
        try:
            block.session["cache"] = _Session(cache_dir(work_dir))
        except OSError:
            block.session["cache"] = None  # no cache where the data dir cannot hold one
    return block.session["cache"]


def validated_block(
    block: Block,
    codec: str,
    file: str,
    matched: HeaderMap,
    problems: Problems,
    work_dir: Path | None,
) -> Part:
    """`ledger_block` of a block; of a run of chunks (stream.Lines) read with a data dir,
    the chunks the last import validated without a problem come from the cache, the others
    are parsed and validated at once, and all of them are kept for the next import. The last
    block of the file makes this import's chunks the cache."""
    if not isinstance(block, Lines) or work_dir is None:
        return ledger_block(block, codec, file, matched, problems)
    session = _session(block, work_dir)
    if session is None:
        return ledger_block(block, codec, file, matched, problems)
    context = _context(block, codec, matched)
    chunks = block.chunks
    keys = [hashlib.sha256(context + c.digest).digest() for c in chunks]
    session.forget()  # the previous block's entries: most of its chunks were its own
    pieces: list[_Piece | None] = [
        session.piece(k, c.line) for k, c in zip(keys, chunks, strict=True)
    ]
    missing = [k for k, piece in enumerate(pieces) if piece is None]
    parsed = block.parse(missing) if missing else None
    clean = [piece is not None for piece in pieces]
    part: Part | None = None
    if parsed is not None:  # the chunks not in the cache, validated at once
        before = problems.total
        run = ledger_block(parsed, codec, file, matched, problems)
        for k in missing:  # a chunk with a problem is never kept
            clean[k] = problems.total == before
        if len(missing) == len(chunks):
            part = run  # nothing came from the cache: the run is the block
        else:
            starts = [chunks[k].line for k in missing]
            bounds = np.searchsorted(run["_row"], starts[1:]).tolist()  # type: ignore[arg-type]
            edges = [0, *bounds, len(run["_row"])]  # type: ignore[arg-type]
            for k, piece in zip(missing, _pieces_of(run, edges), strict=True):
                pieces[k] = piece
            session.sources[b""] = {
                name: pa.array(c.values, pa.string())
                for name, c in run.items()
                if isinstance(c, Coded)
            }
    found = [p for p in pieces if p is not None and len(p.columns["_row"])]
    if part is None:
        if found:
            part = _joined(found, session.sources)  # type: ignore[arg-type]
        else:  # only blank lines
            part = ledger_block(block, codec, file, matched, problems)
    _keep(session.pack, part, chunks, keys, clean)
    lines = [c.line for c in chunks]
    found_ids = ledger_map.chunk_premises(part, lines)
    session.mapped.update(zip(zip(keys, lines, strict=True), found_ids, strict=True))
    if block.last:
        session.finish(file, block.found.sha256, problems.total == 0)
    block.rows = part["_row"]  # type: ignore[assignment]
    return part


def _keep(pack: Pack, part: Part, chunks: list, keys: list[bytes], clean: list[bool]) -> None:
    """The block's values, its rows and its clean chunks into the new pack."""
    if not any(clean):
        return
    values = encode_values(part)
    digest = hashlib.sha256()
    for buffer in values:
        digest.update(buffer)
    values_key = digest.digest()
    bounds = np.searchsorted(part["_row"], [c.line for c in chunks[1:]]).tolist()  # type: ignore[arg-type]
    edges = [0, *bounds, len(part["_row"])]  # type: ignore[arg-type]
    rows = encode_rows(part, edges, [c.line for c in chunks])
    rows_key = hashlib.sha256(b"".join(keys) + values_key).digest()
    pack.put(values_key, VALUES, values)
    pack.put(rows_key, ROWS, rows)
    for k in range(len(chunks)):
        if clean[k]:
            pack.put(keys[k], CHUNK, CHUNK_REF.pack(rows_key, values_key, edges[k], edges[k + 1]))
