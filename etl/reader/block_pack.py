"""The file that keeps validated ledger chunks from one import to the next
(etl.reader.block_cache says what is in it and why).

One file, DATA/cache/ledger-blocks.pack (a fixed name, never built from data): a magic line,
then entries of (key, kind, length, CRC-32, payload). An import that reads the whole ledger
writes a new pack beside the old one, with only what it read itself, and renames it over the
old one once the whole ledger was read: the cache holds one ledger, and a crash leaves the
old pack whole (or, should a rename outlive its data, entries whose CRC does not check out).
A re-import that reads only the changed chunks (etl.reader.ledger_delta) adds their entries
to the old pack instead (`Pack.extend`), up to a limit past which it is written anew. An entry that
does not check out, a torn end, a file that is not a pack: all are simply not found.

Three kinds of entries, per block of the ledger (a run of chunks parsed together): VALUES, the
distinct values of its text columns (Arrow's offsets and UTF-8 bytes); ROWS, all its rows a
column at a time (text as codes into those values, amounts as int32 where they fit, each
row's line relative to its chunk's first line unless they simply follow one another); and
per chunk a CHUNK entry of 80 bytes, keyed by the chunk: which ROWS and VALUES, which rows.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from etl.reader.stream import Coded, Part

Buffer = Any  # bytes, or anything with the buffer protocol (a numpy array)

PACK = "ledger-blocks.pack"
MAGIC = b"EBOK-ledger-blocks-4\n"  # 4: chunks known by XXH3-128
_ENTRY = struct.Struct("<32sBQI")  # key, kind, payload length, CRC-32 of the payload
VALUES, ROWS, CHUNK = 1, 2, 3  # kinds of entries: a block's text values, its rows, a chunk
CHUNK_REF = struct.Struct("<32s32sQQ")  # a chunk: rows entry, values entry, rows [a, b)
_HEAD = struct.Struct("<I")


class Pack:
    """The previous import's pack (read) and this import's (being written)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / PACK
        for stale in directory.glob(f".{PACK}.tmp-*"):  # left by an import that was killed
            stale.unlink(missing_ok=True)
        # Read with pread, not mapped: a file cut short under a mapping kills the process.
        self._old: int | None = None
        self._index: dict[bytes, tuple[int, int, int, int]] = {}
        self._end = 0  # where the old pack's last whole entry ends
        self._in_place = False  # added to the old pack (`extend`), not written anew
        try:
            self._old = os.open(self.path, os.O_RDONLY)
            self._index, self._end = _index(self._old)
        except OSError:  # none yet
            self._index = {}
        self._tmp = directory / f".{PACK}.tmp-{os.getpid()}"
        self._out = open(self._tmp, "wb", buffering=1 << 20)  # noqa: SIM115 - commit, abort
        self._out.write(MAGIC)
        self._written: set[bytes] = set()

    def get(self, key: bytes, kind: int) -> bytes | None:
        """The payload kept under `key`, if there is one of this kind and it checks out."""
        found = self._index.get(key)
        if found is None or found[0] != kind or self._old is None:
            return None
        _, at, length, crc = found
        try:
            payload = os.pread(self._old, length, at)
        except OSError:
            return None
        if len(payload) != length or zlib.crc32(payload) != crc:
            return None
        return payload

    def put(self, key: bytes, kind: int, payload: bytes | list[Buffer]) -> None:
        """Keep `payload` (bytes, or buffers written one after the other, never joined: a
        block's rows are megabytes) under `key` in the new pack (once). A pack that cannot
        be written (a full disk) is given up: the import goes on without it."""
        if key in self._written or self._out.closed:
            return
        self._written.add(key)
        parts = [payload] if isinstance(payload, bytes) else payload
        length = crc = 0
        for part in parts:
            view = memoryview(part).cast("B")
            length += view.nbytes
            crc = zlib.crc32(view, crc)
        try:
            self._out.write(_ENTRY.pack(key, kind, length, crc))
            for part in parts:
                self._out.write(part)
        except OSError:
            self._give_up()

    def extend(self, limit: int) -> bool:
        """Add to the old pack instead of writing a new one, when it is no bigger than `limit`
        bytes: a re-import then writes only what it parsed (etl.reader.ledger_delta), and the
        entries of chunks that are gone stay until a pack past the limit is written anew,
        entry by entry (`carry`). The old pack is cut back to its last whole entry first, so
        a torn end an import left cannot hide what is added after it; an import that dies
        while adding leaves such an end, and whole entries. False: not extended."""
        if self._old is None or self._out.closed or self._written:
            return False
        size = os.fstat(self._old).st_size
        if size > limit or self._end < len(MAGIC):
            return False
        try:
            self._out.close()
            self._tmp.unlink(missing_ok=True)
            out = open(self.path, "r+b", buffering=1 << 20)  # noqa: SIM115 - commit, abort
            out.truncate(self._end)
            out.seek(self._end)
        except OSError:
            self._give_up()
            return False
        self._out, self._in_place = out, True
        self._written.update(self._index)
        return True

    def carry(self, key: bytes) -> bool:
        """The old pack's entry under `key` into the new one as it is, unread (a re-import
        keeps the chunks it did not need: etl.reader.ledger_delta); False if there is none.
        Its CRC goes with it, so a damaged entry stays one that does not check out."""
        found = self._index.get(key)
        if found is None or self._old is None:
            return False
        if key in self._written or self._out.closed:
            return True
        kind, at, length, crc = found
        try:
            payload = os.pread(self._old, length, at)
            if len(payload) != length:
                return False
            self._written.add(key)
            self._out.write(_ENTRY.pack(key, kind, length, crc))
            self._out.write(payload)
        except OSError:
            self._give_up()
        return True

    def commit(self) -> bool:
        """This import's entries become the pack (unless it was given up: the old one stays,
        its entries as good as ever, and this says False)."""
        done = False
        if not self._out.closed:
            try:
                self._out.close()
                if not self._in_place:
                    os.replace(self._tmp, self.path)
                done = True
            except OSError:
                self._give_up()
        self._close_old()
        return done

    def abort(self) -> None:
        self._give_up()
        self._close_old()

    def _give_up(self) -> None:
        """No new pack: what was written of it goes (the old one is still read), and what was
        added to the old one is cut off again."""
        with contextlib.suppress(OSError):
            self._out.close()
        with contextlib.suppress(OSError):
            self._tmp.unlink(missing_ok=True)
        if self._in_place:
            with contextlib.suppress(OSError):
                os.truncate(self.path, self._end)

    def _close_old(self) -> None:
        if self._old is not None:
            os.close(self._old)
            self._old = None


def _index(fd: int) -> tuple[dict[bytes, tuple[int, int, int, int]], int]:
    """key -> (kind, offset, length, crc) of every whole entry (a torn end is left out), and
    where the last whole entry ends (0: not a pack)."""
    size = os.fstat(fd).st_size
    if os.pread(fd, len(MAGIC), 0) != MAGIC:
        return {}, 0
    index = {}
    at = end = len(MAGIC)
    while at + _ENTRY.size <= size:
        key, kind, length, crc = _ENTRY.unpack(os.pread(fd, _ENTRY.size, at))
        at += _ENTRY.size
        if at + length > size:
            break
        index[key] = (kind, at, length, crc)
        at = end = at + length
    return index, end


# --- what the entries hold --------------------------------------------------------------------


def _with_head(head: Any, arrays: list[Any]) -> list[Any]:
    """An entry's buffers: the length of its JSON head, the head, the arrays (not copied)."""
    data = orjson.dumps(head)
    return [_HEAD.pack(len(data)), data, *arrays]


def _head(payload: bytes) -> tuple[Any, int]:
    (length,) = _HEAD.unpack_from(payload)
    return orjson.loads(payload[4 : 4 + length]), 4 + length


def encode_values(part: Part) -> list[Any]:
    """The distinct values of a block's text columns: Arrow's offsets and UTF-8 bytes."""
    head, arrays = [], []
    for name, column in part.items():
        if not isinstance(column, Coded):
            continue
        values = pa.array(column.values, pa.string())
        validity, offsets, data = values.buffers()
        m = len(values)
        ends = np.frombuffer(offsets, dtype="<i4", count=m + 1)
        nulls = b"" if values.null_count == 0 else validity.to_pybytes()[: (m + 7) // 8]
        text = memoryview(data)[: int(ends[-1])] if data is not None else b""
        head.append([name, m, len(nulls), len(text)])
        arrays += [ends, nulls, text]
    return _with_head(head, arrays)


def decode_values(payload: bytes) -> dict[str, pa.Array]:
    """`encode_values` back; raises for bytes that are not such an entry."""
    head, at = _head(payload)
    view = memoryview(payload)
    out = {}
    for name, m, nulls, size in head:
        offsets = view[at : at + 4 * (m + 1)]
        at += 4 * (m + 1)
        validity = pa.py_buffer(view[at : at + nulls]) if nulls else None
        at += nulls
        data = view[at : at + size]
        at += size
        values = pa.Array.from_buffers(
            pa.string(), m, [validity, pa.py_buffer(offsets), pa.py_buffer(data)]
        )
        values.validate(full=True)
        out[name] = values
    if at != len(payload):
        raise ValueError("not a whole values entry")
    return out


def encode_rows(part: Part, edges: list[int], lines: list[int]) -> list[Any]:
    """All rows of a validated block, a column at a time: text as codes into the block's
    values entry, amounts (int32 where they fit), and each row's line relative to the first
    line of its chunk (nothing at all when every chunk's rows are its lines in order, the
    usual case). Chunk k is rows [edges[k], edges[k + 1])."""
    rows = np.asarray(part["_row"])
    columns: list[list[str]] = []
    arrays: list[Any] = []
    for name, column in part.items():
        if name == "_row":
            if _consecutive(rows, edges, lines):
                continue
            counts = np.diff(edges)
            values = rows - np.repeat(np.asarray(lines, dtype=np.int64), counts)
        else:
            values = column.codes if isinstance(column, Coded) else np.asarray(column)
        kind = "text" if isinstance(column, Coded) else values.dtype.str
        if kind != "text" and values.dtype.kind == "i" and len(values):
            small = np.iinfo(np.int32)
            if small.min <= int(values.min()) and int(values.max()) <= small.max:
                values = values.astype("<i4")
        columns.append([name, kind, values.dtype.str])
        arrays.append(np.ascontiguousarray(values))
    return _with_head({"n": len(rows), "columns": columns}, arrays)


def _consecutive(rows: np.ndarray, edges: list[int], lines: list[int]) -> bool:
    """Whether each chunk's rows are its lines from the first, in order (no blank line): the
    rows increase, so it is enough that the block's span equals its count and each chunk
    with rows starts at its first line."""
    if not len(rows):
        return True
    if int(rows[-1]) - int(rows[0]) != len(rows) - 1:
        return False
    starts = np.asarray(edges[:-1])
    has = np.diff(edges) > 0
    return bool(np.array_equal(rows[starts[has]], np.asarray(lines)[has]))


class Rows:
    """A block's rows as kept (`encode_rows`): whole columns, cut into chunks on demand."""

    def __init__(self, payload: bytes) -> None:
        head, at = _head(payload)
        n = int(head["n"])
        self.columns: dict[str, np.ndarray] = {}  # as kept (amounts maybe narrower)
        self.kinds: dict[str, np.dtype] = {}  # what the amounts are as validated
        self.text: set[str] = set()
        for name, kind, stored in head["columns"]:
            dtype = np.dtype(stored)
            if at + n * dtype.itemsize > len(payload):
                raise ValueError("rows cut short")
            array = np.frombuffer(payload, dtype=dtype, count=n, offset=at)
            at += n * dtype.itemsize
            if kind == "text":
                self.text.add(name)
            else:
                self.kinds[name] = np.dtype(kind)
            self.columns[name] = array
        if at != len(payload):
            raise ValueError("not a whole rows entry")
        self.n = n

    def rows(self, a: int, b: int) -> dict[str, np.ndarray]:
        """Rows [a, b) a column at a time, amounts widened back (only these rows: a
        re-import takes a few chunks of each block)."""
        return {
            name: array[a:b].astype(self.kinds[name]) if name in self.kinds else array[a:b]
            for name, array in self.columns.items()
        }
