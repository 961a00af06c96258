"""Which premises each chunk of the last import's ledger held (DATA/cache/ledger-map.json).

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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson

from etl.reader.stream import Coded, Part

MAP = "ledger-map.json"  # a fixed name, never built from data
VERSION = 1


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
    """Replace the map (a cache: one that cannot be written is not an error)."""
    premises: dict[str, int] = {}
    chunks = [
        [key.hex(), line, [premises.setdefault(p, len(premises)) for p in ids]]
        for (key, line), ids in ledger.chunks.items()
    ]
    payload = orjson.dumps(
        {
            "version": VERSION,
            "file": ledger.file,
            "sha256": ledger.sha256,
            "premises": list(premises),
            "chunks": chunks,
        }
    )
    tmp = directory / f".{MAP}.tmp-{os.getpid()}"
    try:
        tmp.write_bytes(payload)
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
        found = orjson.loads((directory / MAP).read_bytes())
        if found.get("version") != VERSION:
            return None
        premises = found["premises"]
        chunks = {
            (bytes.fromhex(key), int(line)): tuple(premises[i] for i in ids)
            for key, line, ids in found["chunks"]
        }
        return LedgerMap(str(found["file"]), str(found["sha256"]), chunks)
    except (OSError, ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None
