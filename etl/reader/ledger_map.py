"""Which premises each chunk of the last import's ledger held (DATA/cache/ledger-map.bin).

A re-import that finds most of the ledger's chunks unchanged (etl.reader.block_cache's keys,
at the same lines) needs to know whose rows the changed and the vanished chunks held, and
which unchanged chunks hold the other rows of those premises, without decoding every chunk
again: etl.reader.ledger_delta reads it from here. Only a ledger that validated without a
problem is mapped; the file is replaced whole (a temporary file renamed over it), and one that
does not check out is simply not there.
"""

from __future__ import annotations

import contextlib
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from etl.reader.stream import Coded, Part

MAP = "ledger-map.bin"  # a fixed name, never built from data
MAGIC = b"EBOK-ledger-map-2\n"  # 2: chunks known by XXH3-128
_HEAD = struct.Struct("<I")


@dataclass(frozen=True)
class LedgerMap:
    """The last import's ledger file (its name in the bundle and SHA-256) and, per chunk
    (its cache key and first line), the premises its rows belong to."""

    file: str
    sha256: str
    chunks: dict[tuple[bytes, int], tuple[str, ...]]


def chunk_premises(part: Part, lines: list[int]) -> list[tuple[str, ...]]:
    """The premises ids of the rows of each chunk of a validated run (chunks starting at
    these lines, in order): by runs of rows of one premises, so a ledger sorted by premises
    costs a handful of values per chunk."""
    rows = np.asarray(part["_row"])
    column = part["premises_id"]
    assert isinstance(column, Coded)
    edges = np.searchsorted(rows, lines[1:]).tolist()
    chunk_of = np.repeat(np.arange(len(lines)), np.diff([0, *edges, len(rows)]))
    codes = column.codes.astype(np.int64)
    starts = np.ones(len(codes), dtype=bool)
    starts[1:] = (codes[1:] != codes[:-1]) | (chunk_of[1:] != chunk_of[:-1])
    width = len(column.values) + 1
    pairs = np.unique(chunk_of[starts] * width + codes[starts])
    owners, found = pairs // width, pairs % width
    cuts = np.searchsorted(owners, np.arange(len(lines) + 1))
    values = column.values
    return [
        tuple(values[c] for c in found[a:b].tolist())
        for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True)
    ]


def save(directory: Path, ledger: LedgerMap) -> None:
    """Replace the map (a cache: one that cannot be written is not an error). Its layout: a
    magic line, a CRC-32 of the rest, the length of a JSON head (file, SHA-256, premises ids,
    count), the head, then per chunk its key (32 bytes), its first line (int64), where its
    premises start (int32 offsets, one more than chunks), the premises as indices into the
    head's list."""
    premises: dict[str, int] = {}
    keys, lines, sizes, ids = [], [], [], []
    for (key, line), found in ledger.chunks.items():
        keys.append(key)
        lines.append(line)
        sizes.append(len(found))
        ids += [premises.setdefault(p, len(premises)) for p in found]
    head = orjson.dumps(
        {"file": ledger.file, "sha256": ledger.sha256, "premises": list(premises), "n": len(keys)}
    )
    offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype("<i4")
    parts = [
        _HEAD.pack(len(head)),
        head,
        b"".join(keys),
        np.asarray(lines, dtype="<i8").tobytes(),
        offsets.tobytes(),
        np.asarray(ids, dtype="<i4").tobytes(),
    ]
    tmp = directory / f".{MAP}.tmp-{os.getpid()}"
    try:
        body = b"".join(parts)
        tmp.write_bytes(MAGIC + _HEAD.pack(zlib.crc32(body)) + body)
        os.replace(tmp, directory / MAP)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)


def forget(directory: Path) -> None:
    """No map: the ledger just read had a problem (or could not be cut into chunks)."""
    with contextlib.suppress(OSError):
        (directory / MAP).unlink(missing_ok=True)


def load(directory: Path) -> LedgerMap | None:
    """The map the last import left, or None (none, unreadable, of another version)."""
    try:
        data = (directory / MAP).read_bytes()
        if not data.startswith(MAGIC):
            return None
        at = len(MAGIC)
        (crc,) = _HEAD.unpack_from(data, at)
        at += _HEAD.size
        if zlib.crc32(memoryview(data)[at:]) != crc:
            return None  # a damaged map would keep premises whose rows changed
        (length,) = _HEAD.unpack_from(data, at)
        at += _HEAD.size
        head = orjson.loads(data[at : at + length])
        at += length
        n, premises = int(head["n"]), head["premises"]
        keys = data[at : at + 32 * n]
        at += 32 * n
        lines = np.frombuffer(data, dtype="<i8", count=n, offset=at).tolist()
        at += 8 * n
        offsets = np.frombuffer(data, dtype="<i4", count=n + 1, offset=at).tolist()
        at += 4 * (n + 1)
        ids = np.frombuffer(data, dtype="<i4", count=offsets[-1], offset=at).tolist()
        if at + 4 * offsets[-1] != len(data) or len(keys) != 32 * n:
            return None
        names = [premises[i] for i in ids]
        chunks = {
            (keys[32 * k : 32 * k + 32], lines[k]): tuple(names[offsets[k] : offsets[k + 1]])
            for k in range(n)
        }
        return LedgerMap(str(head["file"]), str(head["sha256"]), chunks)
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError, struct.error):
        return None
